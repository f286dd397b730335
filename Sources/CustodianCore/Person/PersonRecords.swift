import Foundation
import Postgres

/// The records that are one person, as ids: what an erasure removes and an export holds. One
/// person can be a lead and the contact that lead became (and the leads converted into that
/// contact); a customer is its contacts and the leads that became them; a customer made from the
/// person's lead that has no other contact is the person too (a sole trader). The subject itself is
/// always included, so that what still names it (its request cases, pending events) goes even
/// when its record is gone already.
struct PersonRecords: Sendable, Equatable {
    var leads: [UUID] = []
    var contacts: [UUID] = []
    var customers: [UUID] = []

    var isEmpty: Bool { leads.isEmpty && contacts.isEmpty && customers.isEmpty }

    /// Adds the records of `other` not held yet (a journal's erasure names several records).
    mutating func add(_ other: PersonRecords) {
        leads += other.leads.filter { !leads.contains($0) }
        contacts += other.contacts.filter { !contacts.contains($0) }
        customers += other.customers.filter { !customers.contains($0) }
    }

    /// The parameters every per-table statement of an erasure takes: $1 leads, $2 contacts, $3 customers.
    var parameters: [any PostgresBindable] {
        [ArrayLiteral.uuids(leads), ArrayLiteral.uuids(contacts), ArrayLiteral.uuids(customers)]
    }

    /// Opens a statement that takes `parameters`: it gives all three their type, so a statement
    /// may use only some of them.
    static let parameterTypes = "WITH erased_person AS (SELECT $1::uuid[] AS leads, $2::uuid[] AS contacts, $3::uuid[] AS customers) "

    /// Finds the person behind a case's subject and locks their records, so that nothing is added
    /// to them (a note, a consent, a conversion) while they are erased: writes that reference them
    /// wait, then fail on the missing row. Locks customers before contacts before leads, the order
    /// the other writes take.
    static func lock(_ subject: DataSubject, on transaction: PostgresSession) async throws -> PersonRecords {
        var person = try await find(subject, on: transaction)
        // A conversion committed between finding and locking adds a record: look again until the
        // locked set is the whole person.
        for _ in 0..<5 {
            try await transaction.execute(
                Self.parameterTypes + """
                    SELECT 1 FROM customers
                    WHERE id = ANY ($3::uuid[]) OR id IN (SELECT customer_id FROM contacts WHERE id = ANY ($2::uuid[]))
                    ORDER BY id FOR UPDATE
                    """,
                person.parameters
            )
            try await transaction.execute(
                Self.parameterTypes + "SELECT 1 FROM contacts WHERE id = ANY ($2::uuid[]) ORDER BY id FOR UPDATE", person.parameters)
            try await transaction.execute(
                Self.parameterTypes + "SELECT 1 FROM leads WHERE id = ANY ($1::uuid[]) ORDER BY id FOR UPDATE", person.parameters)
            let again = try await find(subject, on: transaction)
            if again == person { return person }
            person = again
        }
        throw DomainError.conflict("the person's records kept changing while they were being erased; try again")
    }

    static func find(_ subject: DataSubject, on session: some Queryable) async throws -> PersonRecords {
        let rows = try await session.query(
            """
            WITH erased_contacts AS (
                SELECT id FROM contacts WHERE ($1::text = 'contact' AND id = $2::uuid) OR ($1::text = 'customer' AND customer_id = $2::uuid)
                UNION
                SELECT converted_contact_id FROM leads WHERE $1::text = 'lead' AND id = $2::uuid AND converted_contact_id IS NOT NULL
            ), erased_leads AS (
                SELECT id, converted_customer_id FROM leads
                WHERE ($1::text = 'lead' AND id = $2::uuid)
                   OR converted_contact_id IN (SELECT id FROM erased_contacts)
                   OR ($1::text = 'customer' AND converted_customer_id = $2::uuid)
            ), sole_traders AS (
                SELECT l.converted_customer_id AS id FROM erased_leads l
                WHERE l.converted_customer_id IS NOT NULL AND NOT EXISTS (
                    SELECT 1 FROM contacts c
                    WHERE c.customer_id = l.converted_customer_id AND c.id NOT IN (SELECT id FROM erased_contacts))
            )
            SELECT 'lead' AS kind, id FROM erased_leads
            UNION SELECT 'contact', id FROM erased_contacts
            UNION SELECT 'customer', id FROM sole_traders
            UNION SELECT $1::text, $2::uuid
            ORDER BY kind, id
            """,
            [subject.kind.rawValue, subject.id]
        )
        var person = PersonRecords()
        for row in rows {
            let id: UUID = try row.decode("id")
            switch try row.decode("kind", as: DataSubject.Kind.self) {
            case .lead: person.leads.append(id)
            case .contact: person.contacts.append(id)
            case .customer: person.customers.append(id)
            }
        }
        return person
    }
}
