import Foundation
import Postgres

/// Customers: the companies the CRM works with.
public struct Customers: Sendable {
    public static let table = RecordTable(
        table: "customers",
        resource: "customer",
        columns: [
            ColumnSpec("company", .text(maxLength: 200), required: true, nullable: false),
            ColumnSpec("vat_number", .text(maxLength: 50)),
            ColumnSpec("phone", .text(maxLength: 50)),
            ColumnSpec("website", .text(maxLength: 500)),
            ColumnSpec("billing_street", .multilineText(maxLength: 500)),
            ColumnSpec("billing_city", .text(maxLength: 100)),
            ColumnSpec("billing_state", .text(maxLength: 100)),
            ColumnSpec("billing_zip", .text(maxLength: 20)),
            ColumnSpec("billing_country", .countryCode),
            ColumnSpec("shipping_street", .multilineText(maxLength: 500)),
            ColumnSpec("shipping_city", .text(maxLength: 100)),
            ColumnSpec("shipping_state", .text(maxLength: 100)),
            ColumnSpec("shipping_zip", .text(maxLength: 20)),
            ColumnSpec("shipping_country", .countryCode),
            ColumnSpec("country", .countryCode),
            ColumnSpec("active", .boolean, nullable: false),
        ],
        searchColumns: ["company"],
        uniqueFields: [:]
    )

    let database: PostgresPool

    public init(database: PostgresPool) { self.database = database }

    public func create(_ values: ColumnValues, customFields: JSONValue, by actor: UUID) async throws -> StoredRecord {
        try await Self.table.insert(values, customFields: customFields, by: actor, on: database)
    }

    public func find(id: UUID) async throws -> StoredRecord {
        try await Self.table.find(id: id, on: database)
    }

    public func list(_ filter: RecordTable.Filter, after cursor: Cursor?, limit: Int) async throws -> Page<StoredRecord> {
        try await Self.table.list(filter, after: cursor, limit: limit, on: database)
    }

    public func update(id: UUID, _ values: ColumnValues, customFields: JSONValue?, expectedRevision: Int64?, by actor: UUID) async throws -> StoredRecord {
        try await database.transaction { transaction in
            try await Self.table.update(
                id: id, values, customFields: customFields, expectedRevision: expectedRevision, by: actor, in: transaction
            )
        }
    }

    /// Deletes the customer with its contacts.
    public func delete(id: UUID, expectedRevision: Int64?) async throws {
        try await database.transaction { transaction in
            try await Self.table.delete(id: id, expectedRevision: expectedRevision, in: transaction)
        }
    }
}
