import Foundation
import JSONText
import Postgres

/// Personal consent links: one live link per lead or contact, a capability that lets its holder
/// see and change their own consent. The token has 256 random bits; only its SHA-256 is stored,
/// and only while the link lives. An ended link (rotated, revoked, moved to the contact a lead
/// became) keeps its row, so every decision made through it names who issued it.
public struct ConsentLinks: Sendable {
    let database: PostgresPool

    public init(database: PostgresPool) { self.database = database }

    public struct Issued: Sendable {
        public let id: UUID
        /// Shown once: the last path segment of the link.
        public let token: String
        public let expiresAt: Date?
    }

    /// A link's record, without its token.
    public struct Link: Sendable {
        public enum State: String, Sendable {
            case live, expired, ended
        }

        public let id: UUID
        public let createdAt: Date
        public let createdBy: UUID?
        public let expiresAt: Date?
        public let endedAt: Date?
        public let endedBy: UUID?
        public let endReason: String?
        public let state: State
    }

    /// The live link behind a token.
    public struct Resolved: Sendable {
        public let linkID: UUID
        public let subject: Person
        public let firstName: String
        public let settings: ConsentSettings.Values
    }

    /// Issues the person's link, ending (and so killing) any earlier one.
    public func issue(for subject: Person, by actor: UUID) async throws -> Issued {
        let token = Secret.randomToken()
        return try await database.transaction { transaction in
            try await subject.requireCurrent(on: transaction, lock: true)
            let settings = try await ConsentSettings(database: database).current(on: transaction)
            guard settings.enabled(for: subject.kind) else {
                throw DomainError.conflict("consent for \(subject.kind.resource)s is switched off in the consent settings")
            }
            return try await rotate(subject, token: token, by: actor, lifetimeDays: settings.linkLifetimeDays, on: transaction)
        }
    }

    /// Ends the person's link and stores a new one for `token`: by staff (`actor`) or, nil, by
    /// the person's own request.
    private func rotate(_ subject: Person, token: String, by actor: UUID?, lifetimeDays: Int?, on transaction: PostgresSession)
        async throws -> Issued
    {
        try await end(subject, reason: "rotated", by: actor, on: transaction)
        let row = try await transaction.query(
            """
            INSERT INTO consent_links (\(subject.kind.consentColumn), token_hash, created_by, expires_at)
            VALUES ($1, $2, $3, now() + $4::integer * interval '1 day')
            RETURNING id, expires_at
            """,
            [subject.id, Secret.hash(token), actor, lifetimeDays]
        ).single()
        return Issued(id: try row.decode("id"), token: token, expiresAt: try row.decode("expires_at"))
    }

    /// A person without their link asks for one by email: each current person with that address
    /// (a lead not converted, or a contact) gets a fresh link, sent to the mailer as
    /// `person.link_requested` (the link sealed at rest). The asker learns nothing: the caller
    /// answers alike whether anyone had the address. At most `requestsPerHour` links a person
    /// gets this way in an hour (each one ends the last), so nobody can flood an inbox or keep
    /// ending a person's link.
    public func request(byEmail email: String, linkBaseURL: String, secrets: ServerSecrets) async throws {
        try await database.transaction { transaction in
            let people = try await transaction.query(
                """
                SELECT 'lead' AS kind, id, email FROM leads WHERE lower(email) = lower($1) AND converted_at IS NULL
                UNION ALL
                SELECT 'contact', id, email FROM contacts WHERE lower(email) = lower($1)
                LIMIT 10
                """, [email]
            )
            let settings = try await ConsentSettings(database: database).current(on: transaction)
            for row in people {
                let subject = Person(try row.decode("kind", as: Person.Kind.self), id: try row.decode("id"))
                guard settings.enabled(for: subject.kind) else { continue }
                let recent: Int = try await transaction.query(
                    """
                    SELECT count(*)::int AS n FROM consent_links
                    WHERE \(subject.kind.consentColumn) = $1 AND created_by IS NULL AND created_at > now() - interval '1 hour'
                    """, [subject.id]
                ).single().decode("n")
                guard recent < Self.requestsPerHour else { continue }
                // The person's own doing, which a restriction of their processing allows.
                try await Restrictions.actingAsThePerson(subject.id, in: transaction)
                let link = try await rotate(
                    subject, token: Secret.randomToken(), by: nil, lifetimeDays: settings.linkLifetimeDays, on: transaction)
                let base = linkBaseURL.hasSuffix("/") ? String(linkBaseURL.dropLast()) : linkBaseURL
                try await Outbox.emit(
                    .linkRequested,
                    data: [
                        "subject_type": .string(subject.kind.rawValue), "subject_id": .uuid(subject.id),
                        "email": .string(try row.decode("email", as: String.self)),
                        "expires_at": .timestamp(link.expiresAt),
                    ],
                    sealing: ["link": .string(base + "/" + link.token), "token": .string(link.token)], with: secrets,
                    subjectID: subject.id,
                    on: transaction)
            }
        }
    }

    static let requestsPerHour = 3

    /// Revokes the person's link at once; revoking when there is none changes nothing.
    public func revoke(for subject: Person, by actor: UUID) async throws {
        try await database.transaction { transaction in
            try await subject.requireExists(on: transaction, lock: true)
            try await end(subject, reason: "revoked", by: actor, on: transaction)
        }
    }

    private func end(_ subject: Person, reason: String, by actor: UUID?, on transaction: PostgresSession) async throws {
        try await transaction.execute(
            """
            UPDATE consent_links SET token_hash = NULL, ended_at = now(), ended_by = $2, end_reason = $3
            WHERE \(subject.kind.consentColumn) = $1 AND ended_at IS NULL
            """,
            [subject.id, actor, reason]
        )
    }

    /// Every link the person ever had, newest first.
    public func list(for subject: Person) async throws -> [Link] {
        try await subject.requireExists(on: database)
        return try await database.query(
            """
            SELECT id, created_at, created_by, expires_at, ended_at, ended_by, end_reason,
                   CASE WHEN ended_at IS NOT NULL THEN 'ended' WHEN expires_at <= now() THEN 'expired' ELSE 'live' END AS state
            FROM consent_links WHERE \(subject.kind.consentColumn) = $1
            ORDER BY created_at DESC, id
            """,
            [subject.id]
        ).map { row in
            Link(
                id: try row.decode("id"),
                createdAt: try row.decode("created_at"),
                createdBy: try row.decode("created_by"),
                expiresAt: try row.decode("expires_at"),
                endedAt: try row.decode("ended_at"),
                endedBy: try row.decode("ended_by"),
                endReason: try row.decode("end_reason"),
                state: try row.decode("state", as: Link.State.self)
            )
        }
    }

    /// When a lead becomes a contact, its live link moves with it: the person keeps the link they
    /// hold, and it now shows and changes the contact's consent.
    static func moveOnConversion(fromLead lead: UUID, toContact contact: UUID, in transaction: PostgresSession) async throws {
        try await transaction.execute(
            """
            WITH ended AS (
                UPDATE consent_links k SET token_hash = NULL, ended_at = now(), end_reason = 'converted'
                FROM consent_links live
                WHERE live.id = k.id AND k.lead_id = $1 AND k.ended_at IS NULL
                RETURNING live.token_hash, live.created_by, live.expires_at
            )
            INSERT INTO consent_links (contact_id, token_hash, created_by, expires_at)
            SELECT $2, token_hash, created_by, expires_at FROM ended
            """,
            [lead, contact]
        )
    }

    /// Whether `token` has the shape of a token this server issues (43 base64url characters):
    /// anything else is refused without a database lookup.
    public static func couldBeToken(_ token: String) -> Bool {
        Secret.couldBeToken(token)
    }

    /// The settings (one row) come with the link: one round trip for a public request.
    private static let resolveSQL = """
        SELECT k.id, k.token_hash, k.lead_id, k.contact_id, coalesce(split_part(l.name, ' ', 1), c.first_name) AS first_name,
               \(ConsentSettings.columns(of: "s"))
        FROM consent_links k
        LEFT JOIN leads l ON l.id = k.lead_id
        LEFT JOIN contacts c ON c.id = k.contact_id
        CROSS JOIN consent_settings s
        WHERE k.token_hash = $1 AND (k.expires_at IS NULL OR k.expires_at > now())
        """

    /// The person behind a live token and their first name, or nil for a token that is unknown,
    /// ended, expired, or (`forConsent`) whose kind of person has consent switched off — callers
    /// answer all of these the same way. The link is the person's way in for more than consent
    /// (their requests), where the consent switch does not apply.
    public func resolve(_ token: String, forConsent: Bool = true) async throws -> Resolved? {
        guard Self.couldBeToken(token) else { return nil }
        let hash = Secret.hash(token)
        let rows = try await database.query(Self.resolveSQL, [hash])
        guard let row = rows.first, Secret.constantTimeEqual(try row.decode("token_hash"), hash) else { return nil }
        let subject: Person
        if let lead: UUID = try row.decode("lead_id") {
            subject = .lead(lead)
        } else if let contact: UUID = try row.decode("contact_id") {
            subject = .contact(contact)
        } else {
            return nil
        }
        let settings = try ConsentSettings.values(from: row)
        guard !forConsent || settings.enabled(for: subject.kind) else { return nil }
        return Resolved(linkID: try row.decode("id"), subject: subject, firstName: try row.decode("first_name"), settings: settings)
    }
}
