import Foundation
import Postgres

/// Personal consent links: one per lead or contact, a capability that lets its holder see and
/// change their own consent. The token has 256 random bits; only its SHA-256 is stored.
public struct ConsentLinks: Sendable {
    let database: PostgresPool

    public init(database: PostgresPool) { self.database = database }

    public struct Issued: Sendable {
        /// Shown once: the last path segment of the link.
        public let token: String
        public let expiresAt: Date?
    }

    /// Issues the person's link, replacing (and so killing) any earlier one.
    public func issue(for subject: ConsentSubject, by actor: UUID) async throws -> Issued {
        let token = Secret.randomToken()
        return try await database.transaction { transaction in
            try await subject.requireExists(on: transaction, lock: true)
            let settings = try await ConsentSettings(database: database).current(on: transaction)
            guard settings.enabled(for: subject.kind) else {
                throw DomainError.conflict("consent for \(subject.resource)s is switched off in the consent settings")
            }
            try await transaction.execute("DELETE FROM consent_links WHERE \(subject.column) = $1", [subject.id])
            let row = try await transaction.query(
                """
                INSERT INTO consent_links (\(subject.column), token_hash, created_by, expires_at)
                VALUES ($1, $2, $3, now() + $4::integer * interval '1 day')
                RETURNING expires_at
                """,
                [subject.id, Secret.hash(token), actor, settings.linkLifetimeDays]
            ).single()
            return Issued(token: token, expiresAt: try row.decode("expires_at"))
        }
    }

    /// Revokes the person's link at once; revoking when there is none changes nothing.
    public func revoke(for subject: ConsentSubject) async throws {
        try await subject.requireExists(on: database)
        try await database.execute("DELETE FROM consent_links WHERE \(subject.column) = $1", [subject.id])
    }

    /// The person behind a live token and their first name, or nil for a token that is unknown,
    /// replaced, revoked, expired, or whose kind of person has consent switched off — callers
    /// answer all of these the same way.
    public func resolve(_ token: String) async throws -> (subject: ConsentSubject, firstName: String, settings: ConsentSettings.Values)? {
        guard token.utf8.count == 43, Data(base64URLEncoded: token) != nil else { return nil }
        let hash = Secret.hash(token)
        let rows = try await database.query(
            """
            SELECT k.token_hash, k.lead_id, k.contact_id, coalesce(split_part(l.name, ' ', 1), c.first_name) AS first_name
            FROM consent_links k
            LEFT JOIN leads l ON l.id = k.lead_id
            LEFT JOIN contacts c ON c.id = k.contact_id
            WHERE k.token_hash = $1 AND (k.expires_at IS NULL OR k.expires_at > now())
            """,
            [hash]
        )
        guard let row = rows.first, Secret.constantTimeEqual(try row.decode("token_hash"), hash) else { return nil }
        let subject: ConsentSubject
        if let lead: UUID = try row.decode("lead_id") {
            subject = .lead(lead)
        } else if let contact: UUID = try row.decode("contact_id") {
            subject = .contact(contact)
        } else {
            return nil
        }
        let settings = try await ConsentSettings(database: database).current()
        guard settings.enabled(for: subject.kind) else { return nil }
        return (subject, try row.decode("first_name"), settings)
    }
}
