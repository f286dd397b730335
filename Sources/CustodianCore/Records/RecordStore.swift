import Foundation
import JSONText
import Postgres

/// Create, read, list, update and delete for a record type whose writes need no rules beyond
/// its columns' (customers, leads); each write is one transaction.
public struct RecordStore: Sendable {
    public let table: RecordTable
    let database: PostgresPool

    public init(table: RecordTable, database: PostgresPool) {
        self.table = table
        self.database = database
    }

    public func create(_ values: ColumnValues, customFields: JSONValue, by actor: UUID) async throws -> StoredRecord {
        try await table.insert(values, customFields: customFields, by: actor, on: database)
    }

    /// The record, as a client reads it: the read is in the audit trail.
    public func find(id: UUID) async throws -> StoredRecord {
        try await table.read(id: id, on: database)
    }

    public func list(_ filter: RecordTable.Filter, after cursor: Cursor?, limit: Int) async throws -> ListDocument {
        try await table.listDocument(filter, after: cursor, limit: limit, on: database)
    }

    public func update(id: UUID, _ values: ColumnValues, customFields: JSONValue?, expectedRevision: Int64?, by actor: UUID) async throws
        -> StoredRecord
    {
        try await database.transaction { transaction in
            try await table.update(
                id: id, values, customFields: customFields, expectedRevision: expectedRevision, by: actor, in: transaction)
        }
    }

    public func delete(id: UUID, expectedRevision: Int64?) async throws {
        try await database.transaction { transaction in
            try await table.delete(id: id, expectedRevision: expectedRevision, in: transaction)
        }
    }
}
