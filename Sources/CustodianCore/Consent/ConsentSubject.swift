import Foundation
import Postgres

/// The person a consent record is about: a lead or a contact.
public enum ConsentSubject: Sendable, Equatable {
    case lead(UUID)
    case contact(UUID)

    public enum Kind: Sendable { case lead, contact }

    public var kind: Kind {
        switch self {
        case .lead: .lead
        case .contact: .contact
        }
    }

    public var id: UUID {
        switch self {
        case .lead(let id), .contact(let id): id
        }
    }

    /// The consent_records column that names this kind of person; fixed, never from a request.
    var column: String {
        switch self {
        case .lead: "lead_id"
        case .contact: "contact_id"
        }
    }

    var table: String {
        switch self {
        case .lead: "leads"
        case .contact: "contacts"
        }
    }

    var resource: String {
        switch self {
        case .lead: "lead"
        case .contact: "contact"
        }
    }

    /// 404 unless the lead or contact exists; with `lock`, holds its row until the transaction ends.
    func requireExists(on database: some Queryable, lock: Bool = false) async throws {
        let rows = try await database.query("SELECT 1 FROM \(table) WHERE id = $1\(lock ? " FOR UPDATE" : "")", [id])
        if rows.isEmpty { throw DomainError.notFound(resource: resource) }
    }

    /// Like `requireExists`, and 409 for a lead that was converted: the person is its contact now,
    /// and one person has one consent state, so decisions and links go to the contact.
    func requireCurrent(on database: some Queryable, lock: Bool = false) async throws {
        guard case .lead(let id) = self else {
            try await requireExists(on: database, lock: lock)
            return
        }
        let rows = try await database.query(
            "SELECT converted_at IS NOT NULL AS converted, converted_contact_id FROM leads WHERE id = $1\(lock ? " FOR UPDATE" : "")", [id]
        )
        guard let row = rows.first else { throw DomainError.notFound(resource: resource) }
        if try row.decode("converted", as: Bool.self) {
            let contact: UUID? = try row.decode("converted_contact_id")
            let target = contact.map { "contact \($0.lowercasedString)" } ?? "a contact"
            throw DomainError.conflict("this lead was converted into \(target): the person's consent lives there now")
        }
    }
}
