import Foundation
import JSONText
import Postgres

/// Contacts: the people at customers. Every customer with contacts has exactly one primary
/// contact; the database enforces it, and these writes keep it so without the caller's help.
public struct Contacts: Sendable {
    public static let table = RecordTable(
        table: "contacts",
        resource: "contact",
        columns: [
            ColumnSpec("customer_id", .reference, required: true, nullable: false),
            ColumnSpec("first_name", .text(maxLength: 100), required: true, nullable: false),
            ColumnSpec("last_name", .text(maxLength: 100), required: true, nullable: false),
            ColumnSpec("email", .email, required: true, nullable: false),
            ColumnSpec("phone", .text(maxLength: 50)),
            ColumnSpec("title", .text(maxLength: 200)),
            ColumnSpec("is_primary", .boolean, nullable: false),
            ColumnSpec("active", .boolean, nullable: false),
            ColumnSpec("email_notifications", .boolean, nullable: false),
        ],
        searchColumns: ["first_name", "last_name", "email"],
        uniqueFields: ["contacts_email_unique": "email"],
        deletionCheck: { id, transaction in try await PersonHistory.refuseDeletion(of: DataSubject(.contact, id: id), on: transaction) }
    )

    let database: PostgresPool

    public init(database: PostgresPool) { self.database = database }

    /// Reads are plain record work; writes keep the primary-contact rule.
    public var store: RecordStore { RecordStore(table: Self.table, database: database) }

    /// The customer's first contact becomes its primary one; a new contact sent with
    /// `is_primary: true` takes the flag over from the current primary.
    public func create(_ values: ColumnValues, customFields: JSONValue, by actor: UUID) async throws -> StoredRecord {
        guard case .uuid(let customerID)? = Self.value("customer_id", in: values) else {
            throw DomainError.invalid([FieldError(field: "customer_id", message: "is required")])
        }
        return try await database.transaction { transaction in
            let hasContacts = try await lockCustomer(customerID, in: transaction)
            let primary = !hasContacts || Self.value("is_primary", in: values) == .bool(true)
            if primary { try await clearPrimary(of: customerID, in: transaction) }
            let chosen = values.filter { $0.column != "is_primary" } + [("is_primary", .bool(primary))]
            return try await Self.table.insert(chosen, customFields: customFields, by: actor, on: transaction)
        }
    }

    /// `is_primary: true` moves the flag here; a contact stops being primary only by another
    /// taking over. A contact stays with its customer.
    public func update(id: UUID, _ values: ColumnValues, customFields: JSONValue?, expectedRevision: Int64?, by actor: UUID) async throws
        -> StoredRecord
    {
        if Self.value("customer_id", in: values) != nil {
            throw DomainError.invalid([FieldError(field: "customer_id", message: "cannot change; create the contact at the other customer")]
            )
        }
        return try await database.transaction { transaction in
            let current = try Contact(from: try await Self.table.find(id: id, on: transaction).row)
            _ = try await lockCustomer(current.customerID, in: transaction)
            var values = values
            switch Self.value("is_primary", in: values) {
            case .bool(true)?:
                if !current.isPrimary { try await clearPrimary(of: current.customerID, in: transaction) }
            case .bool(false)?:
                if current.isPrimary {
                    throw DomainError.conflict(
                        "a customer's contacts always have one primary contact: make another contact primary instead")
                }
                values.removeAll { $0.column == "is_primary" }
            default:
                break
            }
            return try await Self.table.update(
                id: id, values, customFields: customFields, expectedRevision: expectedRevision, by: actor, in: transaction
            )
        }
    }

    /// Deleting the primary contact hands the flag to the customer's oldest remaining contact.
    public func delete(id: UUID, expectedRevision: Int64?) async throws {
        try await database.transaction { transaction in
            let current = try Contact(from: try await Self.table.find(id: id, on: transaction).row)
            _ = try await lockCustomer(current.customerID, in: transaction)
            try await Self.table.delete(id: id, expectedRevision: expectedRevision, in: transaction)
            if current.isPrimary {
                try await transaction.execute(
                    """
                    UPDATE contacts SET is_primary = true
                    WHERE id = (SELECT id FROM contacts WHERE customer_id = $1 ORDER BY active DESC, created_at, id LIMIT 1)
                    """,
                    [current.customerID]
                )
            }
        }
    }

    /// Locks the customer so that concurrent writes to its contacts take turns (the primary flag
    /// moves safely); returns whether it has contacts. An unknown customer is a field error.
    private func lockCustomer(_ customerID: UUID, in transaction: PostgresSession) async throws -> Bool {
        let rows = try await transaction.query(
            "SELECT EXISTS (SELECT 1 FROM contacts WHERE customer_id = c.id) AS has_contacts FROM customers c WHERE c.id = $1 FOR UPDATE",
            [customerID]
        )
        guard let row = rows.first else {
            throw DomainError.invalid([FieldError(field: "customer_id", message: "no such customer")])
        }
        return try row.decode("has_contacts")
    }

    private func clearPrimary(of customerID: UUID, in transaction: PostgresSession) async throws {
        try await transaction.execute("UPDATE contacts SET is_primary = false WHERE customer_id = $1 AND is_primary", [customerID])
    }

    static func value(_ column: String, in values: ColumnValues) -> ColumnValue? {
        values.first { $0.column == column }?.value
    }
}
