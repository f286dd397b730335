import Foundation
import Postgres

/// Leads: people who might become customers, and their conversion into a customer with a
/// primary contact.
public struct Leads: Sendable {
    public static let table = RecordTable(
        table: "leads",
        resource: "lead",
        columns: [
            ColumnSpec("name", .text(maxLength: 200), required: true, nullable: false),
            ColumnSpec("company", .text(maxLength: 200)),
            ColumnSpec("title", .text(maxLength: 200)),
            ColumnSpec("email", .email),
            ColumnSpec("phone", .text(maxLength: 50)),
            ColumnSpec("website", .text(maxLength: 500)),
            ColumnSpec("street", .multilineText(maxLength: 500)),
            ColumnSpec("city", .text(maxLength: 100)),
            ColumnSpec("state", .text(maxLength: 100)),
            ColumnSpec("zip", .text(maxLength: 20)),
            ColumnSpec("country", .countryCode),
            ColumnSpec("status", .text(maxLength: 50), nullable: false),
            ColumnSpec("source", .text(maxLength: 100)),
            ColumnSpec("assignee_id", .reference),
            ColumnSpec("description", .multilineText(maxLength: 10000)),
            ColumnSpec("last_contacted_at", .timestamp),
        ],
        readOnlyColumns: [
            ColumnSpec("converted_customer_id", .reference),
            ColumnSpec("converted_contact_id", .reference),
            ColumnSpec("converted_at", .timestamp),
        ],
        searchColumns: ["name", "company", "email"],
        uniqueFields: [:],
        deletionCheck: { id, transaction in try await PersonHistory.refuseDeletion(of: DataSubject(.lead, id: id), on: transaction) }
    )

    let database: PostgresPool

    public init(database: PostgresPool) { self.database = database }

    /// Everything but conversion is plain record work.
    public var store: RecordStore { RecordStore(table: Self.table, database: database) }

    public struct Conversion: Sendable {
        public let lead: StoredRecord
        public let customer: StoredRecord
        public let contact: StoredRecord
    }

    /// Turns the lead into a customer (named after its company, else after the lead) whose primary
    /// contact is the lead, in one transaction: any failure leaves nothing behind. The lead stays,
    /// linked to what it became.
    public func convert(id: UUID, expectedRevision: Int64?, by actor: UUID) async throws -> Conversion {
        try await database.transaction { transaction in
            let lead = try Lead(from: try await Self.table.lock(id: id, atRevision: expectedRevision, in: transaction).row)
            if lead.convertedAt != nil {
                throw DomainError.conflict("this lead was converted already")
            }
            guard let email = lead.email else {
                throw DomainError.invalid([FieldError(field: "email", message: "the lead needs an email to become a contact")])
            }
            func text(_ value: String?) -> ColumnValue { value.map(ColumnValue.text) ?? .null }
            let customer = try await Customers.table.insert(
                [
                    ("company", .text(lead.company ?? lead.name)),
                    ("phone", text(lead.phone)),
                    ("website", text(lead.website)),
                    ("billing_street", text(lead.street)),
                    ("billing_city", text(lead.city)),
                    ("billing_state", text(lead.state)),
                    ("billing_zip", text(lead.zip)),
                    ("billing_country", text(lead.country)),
                    ("country", text(lead.country)),
                ],
                customFields: .object([:]), by: actor, on: transaction
            )
            let (firstName, lastName) = Self.split(lead.name)
            let contact = try await Contacts.table.insert(
                [
                    ("customer_id", .uuid(customer.id)),
                    ("first_name", .text(firstName)),
                    ("last_name", .text(lastName)),
                    ("email", .text(email)),
                    ("phone", text(lead.phone)),
                    ("title", text(lead.title)),
                    ("is_primary", .bool(true)),
                ],
                customFields: .object([:]), by: actor, on: transaction
            )
            let converted = try await transaction.query(
                """
                UPDATE leads SET converted_customer_id = $2, converted_contact_id = $3, converted_at = now(), updated_by = $4
                WHERE id = $1 RETURNING id
                """,
                [id, customer.id, contact.id, actor]
            )
            guard !converted.isEmpty else { throw DomainError.notFound(resource: "lead") }
            try await ConsentLedger.carryOver(fromLead: id, toContact: contact.id, in: transaction)
            try await ConsentLinks.moveOnConversion(fromLead: id, toContact: contact.id, in: transaction)
            let updated = try await Self.table.find(id: id, on: transaction)
            return Conversion(lead: updated, customer: customer, contact: contact)
        }
    }

    /// "Ada King Lovelace" → ("Ada King", "Lovelace"); a single word is both.
    static func split(_ name: String) -> (String, String) {
        let words = name.split(whereSeparator: \.isWhitespace)
        guard words.count > 1, let last = words.last else { return (name, name) }
        return (words.dropLast().joined(separator: " "), String(last))
    }
}
