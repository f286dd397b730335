import Foundation
import JSONText
import Postgres

/// The person: a lead or a contact. Consent, requests, policy acceptances, exports, the privacy
/// centre and the portal are about a person; a customer (a company) is not one, but a request or
/// an erasure may name it (`DataSubject`).
public struct Person: Sendable, Hashable {
    public enum Kind: String, Sendable, CaseIterable {
        case lead, contact

        /// The table that holds this kind of person; fixed, never from a request.
        public var table: String {
            switch self {
            case .lead: "leads"
            case .contact: "contacts"
            }
        }

        /// How errors, events and answers name this kind ("lead").
        public var resource: String { rawValue }

        /// The column of consent_records that names this kind of person.
        var consentColumn: String {
            switch self {
            case .lead: "lead_id"
            case .contact: "contact_id"
            }
        }

        /// The columns a person of this kind is read and written with.
        public var recordTable: RecordTable {
            switch self {
            case .lead: Leads.table
            case .contact: Contacts.table
            }
        }
    }

    public let kind: Kind
    public let id: UUID

    public init(_ kind: Kind, id: UUID) {
        self.kind = kind
        self.id = id
    }

    public static func lead(_ id: UUID) -> Person { Person(.lead, id: id) }
    public static func contact(_ id: UUID) -> Person { Person(.contact, id: id) }

    /// The same person as a request or an erasure names them.
    public var dataSubject: DataSubject {
        switch kind {
        case .lead: DataSubject(.lead, id: id)
        case .contact: DataSubject(.contact, id: id)
        }
    }

    /// 404 unless the lead or contact exists; with `lock`, holds its row until the transaction ends.
    func requireExists(on database: some Queryable, lock: Bool = false) async throws {
        let rows = try await database.query("SELECT 1 FROM \(kind.table) WHERE id = $1\(lock ? " FOR UPDATE" : "")", [id])
        if rows.isEmpty { throw DomainError.notFound(resource: kind.resource) }
    }

    /// Like `requireExists`, and 409 for a lead that was converted: the person is its contact now,
    /// and one person has one consent state, so decisions and links go to the contact.
    func requireCurrent(on database: some Queryable, lock: Bool = false) async throws {
        guard kind == .lead else {
            try await requireExists(on: database, lock: lock)
            return
        }
        let rows = try await database.query(
            "SELECT converted_at IS NOT NULL AS converted, converted_contact_id FROM leads WHERE id = $1\(lock ? " FOR UPDATE" : "")", [id]
        )
        guard let row = rows.first else { throw DomainError.notFound(resource: kind.resource) }
        if try row.decode("converted", as: Bool.self) {
            let contact: UUID? = try row.decode("converted_contact_id")
            let target = contact.map { "contact \($0.lowercasedString)" } ?? "a contact"
            throw DomainError.conflict("this lead was converted into \(target): the person's consent lives there now")
        }
    }
}
