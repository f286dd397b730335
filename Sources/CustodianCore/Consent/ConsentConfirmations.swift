import Foundation
import JSONText
import Postgres

/// Double opt-in: a consent given through a web form or a link for a purpose that asks for it is
/// recorded as a `request`, which counts for nothing until the person confirms it through a token
/// mailed to them; then a `confirm` follows it in their chain. The token is made when the mailer's
/// event is sent, from the request's id and the server's key: nothing usable is stored. A request
/// is confirmed once, and only while it is the person's latest decision on the purpose and younger
/// than `ConsentLedger.confirmationLifetime`.
public struct ConsentConfirmations: Sendable {
    public enum Refusal: Error, Equatable {
        /// Not a token of this server, or it expired, or its person is gone.
        case invalid
        /// Confirmed already, or the person decided on the purpose since.
        case superseded
    }

    public struct Confirmed: Sendable {
        public let purposeID: UUID
        public let purposeName: String
        public let confirmedAt: Date
    }

    let database: PostgresPool
    let secrets: ServerSecrets

    public init(database: PostgresPool, secrets: ServerSecrets) {
        self.database = database
        self.secrets = secrets
    }

    /// For the mailer: `person.consent_confirmation_requested`, with the address to write to and
    /// ids; the confirmation link is added as the event is sent (`token(request:expiresAt:)`).
    static func ask(for request: ConsentLedger.Record, of subject: Person, in transaction: PostgresSession) async throws {
        let email: String? = try await transaction.query(
            "SELECT email FROM \(subject.kind.table) WHERE id = $1", [subject.id]
        ).first?.decode("email")
        var data = ConsentLedger.eventData(request, of: subject).object ?? [:]
        data["request_id"] = .uuid(request.id)
        data["email"] = .string(email)
        data["expires_at"] = .timestamp(request.recordedAt.addingTimeInterval(ConsentLedger.confirmationLifetime))
        try await Outbox.emit(.consentConfirmationRequested, data: .object(data), subjectID: subject.id, on: transaction)
    }

    /// The token that confirms request `id`, ending when the request lapses.
    public static func token(request id: UUID, expiresAt: Date, with secrets: ServerSecrets) throws -> String {
        try ConfirmationToken.issue(.consent, body: .object(["request_id": .uuid(id)]), expiringAt: expiresAt, with: secrets)
    }

    /// Whether `text` has a token's shape: checked before any work.
    public static func couldBeToken(_ text: String) -> Bool { ConfirmationToken.couldBeToken(text) }

    /// What a token asks the person to confirm: the purpose's text as they saw it; nil for a
    /// token that is not valid or expired, or whose request is gone (the person erased).
    public func purpose(confirmedBy token: String) async throws -> (name: String, description: String)? {
        guard let body = ConfirmationToken.open(token, as: .consent, with: secrets),
            let requestID = body["request_id"]?.string.flatMap(UUID.init(uuidString:))
        else { return nil }
        guard
            let row = try await database.query(
                """
                SELECT v.name, v.description FROM consent_records r
                JOIN consent_purpose_versions v ON v.purpose_id = r.purpose_id AND v.version = r.purpose_version
                WHERE r.id = $1 AND r.action = 'request'
                """, [requestID]
            ).first
        else { return nil }
        return (try row.decode("name"), try row.decode("description"))
    }

    /// Confirms the request a token names: a `confirm` record (channel `confirmation`, the
    /// request's purpose version) and `consent.confirmed`.
    public func confirm(token: String, ip: String?, userAgent: String?) async throws -> Confirmed {
        guard let body = ConfirmationToken.open(token, as: .consent, with: secrets),
            let requestID = body["request_id"]?.string.flatMap(UUID.init(uuidString:))
        else { throw Refusal.invalid }
        do {
            return try await database.transaction { transaction in
                try await confirm(requestID, ip: ip, userAgent: userAgent, in: transaction)
            }
        } catch let error as PostgresError where error.constraint == "confirmation_superseded" {
            // Confirmed by a concurrent click: the chain's lock let the other one through first.
            throw Refusal.superseded
        }
    }

    private func confirm(_ requestID: UUID, ip: String?, userAgent: String?, in transaction: PostgresSession) async throws -> Confirmed {
        guard
            let request = try await transaction.query(
                """
                SELECT r.lead_id, r.contact_id, r.purpose_id, r.purpose_version, p.name,
                       r.id = (
                           SELECT l.id FROM consent_records l
                           WHERE l.purpose_id = r.purpose_id AND coalesce(l.lead_id, l.contact_id) = coalesce(r.lead_id, r.contact_id)
                           ORDER BY l.seq DESC LIMIT 1
                       ) AS latest
                FROM consent_records r JOIN consent_purposes p ON p.id = r.purpose_id
                WHERE r.id = $1 AND r.action = 'request'
                """, [requestID]
            ).first
        else { throw Refusal.invalid }
        guard try request.decode("latest", as: Bool.self) else { throw Refusal.superseded }
        let lead: UUID? = try request.decode("lead_id")
        let subject = try lead.map { Person(.lead, id: $0) } ?? Person(.contact, id: try request.decode("contact_id"))
        do {
            try await subject.requireCurrent(on: transaction)
        } catch DomainError.conflict {
            throw Refusal.superseded // a lead converted since: its contact is the person now
        }
        let inserted = try await transaction.query(
            """
            INSERT INTO consent_records (\(subject.kind.consentColumn), purpose_id, purpose_version, action, channel, ip, user_agent)
            VALUES ($1, $2, $3, 'confirm', 'confirmation', $4, $5)
            RETURNING \(ConsentLedger.recordColumns)
            """,
            [
                subject.id, try request.decode("purpose_id", as: UUID.self), try request.decode("purpose_version", as: Int.self), ip,
                userAgent,
            ]
        ).single()
        let record = try ConsentLedger.record(from: inserted)
        try await ConsentLedger.announce(record, of: subject, in: transaction)
        return Confirmed(purposeID: record.purposeID, purposeName: try request.decode("name"), confirmedAt: record.recordedAt)
    }
}
