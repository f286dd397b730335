import Foundation
import Postgres

extension PostgresSession {
    /// Locks one row for the rest of the transaction and refuses (409, naming the current
    /// revision) when `expectedRevision`, the caller's If-Match, is not its revision: how every
    /// change under If-Match starts, so that the check holds until the change commits. `columns`
    /// must select `revision`; a missing row is a 404 naming `resource`. Table and columns come
    /// from code, never from a request.
    func lockRow(
        _ table: String, id: UUID, selecting columns: String = "revision", resource: String, expectedRevision: Int64?
    ) async throws -> Row {
        guard let row = try await query("SELECT \(columns) FROM \(table) WHERE id = $1 FOR UPDATE", [id]).first else {
            throw DomainError.notFound(resource: resource)
        }
        try DomainError.requireRevision(expectedRevision, current: try row.decode("revision"))
        return row
    }
}
