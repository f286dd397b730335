import Foundation
import Postgres

/// A table that holds exactly one row of settings (consent, requests, exports, the customer
/// area, the privacy centre): read as `Values`, and locked with its revision checked before a
/// change, so that two admins changing settings at once cannot overwrite each other unseen.
struct SettingsTable<Values: Sendable>: Sendable {
    let table: String
    /// What is read, `revision` among it.
    let columns: String
    let values: @Sendable (Row) throws -> Values

    func current(on session: some Queryable) async throws -> Values {
        try values(try await session.query("SELECT \(columns) FROM \(table)").single())
    }

    /// The row, locked for the rest of the transaction; 409 unless `expectedRevision` (If-Match)
    /// is its revision.
    func lock(expectedRevision: Int64?, in transaction: PostgresSession) async throws -> Values {
        let row = try await transaction.query("SELECT \(columns) FROM \(table) FOR UPDATE").single()
        try DomainError.requireRevision(expectedRevision, current: try row.decode("revision"))
        return try values(row)
    }
}
