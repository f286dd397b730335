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
}
