import Foundation
import JSONText
import Postgres

/// What other systems hear about. Each event is written to the outbox in the transaction of the
/// change that caused it, with one delivery per active endpoint that wants its type, so an event
/// goes out if and only if its change was committed.
public enum EventType: String, Sendable, CaseIterable {
    case requestReceived = "request.received"
    case requestUpdated = "request.updated"
    case requestDueSoon = "request.due_soon"
    case requestOverdue = "request.overdue"
    case requestCompleted = "request.completed"
    case subjectErased = "subject.erased"
    case passwordResetRequested = "contact.password_reset_requested"
    case portalInvitation = "contact.portal_invitation"
    case emailConfirmationRequested = "person.email_confirmation_requested"
    case emailChangeRequested = "person.email_change_requested"
    case registrationConfirmationRequested = "portal.registration_confirmation_requested"
    case registrationAttempted = "contact.registration_attempted"
    case subjectRestricted = "subject.restricted"
    case subjectRestrictionLifted = "subject.restriction_lifted"
    /// For the mailer: the person is told before processing resumes (GDPR Art. 18(3)).
    case restrictionLiftedNotice = "person.restriction_lifted"
    case consentGiven = "consent.given"
    case consentWithdrawn = "consent.withdrawn"
    /// An objection (GDPR Art. 21) to a purpose.
    case consentObjected = "consent.objected"
    /// A consent given with double opt-in was confirmed by the person; it counts from now.
    case consentConfirmed = "consent.confirmed"
    /// For the mailer: a consent given with double opt-in waits for the person's confirmation;
    /// the event carries the link to mail them.
    case consentConfirmationRequested = "person.consent_confirmation_requested"
    /// A breach's 72-hour deadline to tell the supervisory authority (GDPR Art. 33) comes within a day.
    case breachDueSoon = "breach.due_soon"
    /// A breach's deadline to tell the supervisory authority passed without a notification recorded.
    case breachOverdue = "breach.overdue"
    /// Written by the database with every correction (migration 0027), for GDPR Art. 19.
    case subjectRectified = "subject.rectified"
    /// For the mailer: a person asked for their link by email; mail it to them.
    case linkRequested = "person.link_requested"
}

public enum Outbox {
    /// `data` holds ids, kinds and dates only; `subjectID` names the person the event is about, so
    /// that erasing them also removes what has not gone out yet.
    static func emit(_ type: EventType, data: JSONValue, subjectID: UUID?, on session: some Queryable) async throws {
        try await insert(type, payload: data, subjectID: subjectID, on: session)
    }

    /// An event that carries a secret for the receiver (a one-time link for the mailer): the
    /// secret members are sealed with the server's secret key at rest and opened only when the
    /// message is sent, so the database alone never holds a usable link.
    static func emit(
        _ type: EventType, data: [String: JSONValue], sealing secret: [String: JSONValue], with secrets: ServerSecrets, subjectID: UUID?,
        on session: some Queryable
    ) async throws {
        let key = secrets.current
        let box = try key.seal(JSONValue.object(secret).serialized())
        var payload = data
        payload[sealedMember] = .object(["key_id": .string(key.keyID), "box": .string(Data(box).base64EncodedString())])
        try await insert(type, payload: .object(payload), subjectID: subjectID, on: session)
    }

    static let sealedMember = "sealed"

    /// The payload as the receiver gets it: sealed members opened and put in place.
    public static func opened(_ payload: JSONValue, with secrets: ServerSecrets) throws -> JSONValue {
        guard var members = payload.object, let sealed = members.removeValue(forKey: sealedMember) else { return payload }
        guard let keyID = sealed["key_id"]?.string, let box = sealed["box"]?.string.flatMap({ Data(base64Encoded: $0) }) else {
            return .object(members)
        }
        let opened = try secrets.secret(withID: keyID).open(Array(box))
        let secret = try JSONDecoder().decode(JSONValue.self, from: Data(opened))
        for (name, value) in secret.object ?? [:] { members[name] = value }
        return .object(members)
    }

    private static func insert(_ type: EventType, payload data: JSONValue, subjectID: UUID?, on session: some Queryable) async throws {
        try await session.execute(
            """
            WITH event AS (
                INSERT INTO webhook_events (type, payload, subject_id, trace_id, trace_sampled) VALUES ($1, $2, $3, $4, $5) RETURNING id
            )
            INSERT INTO webhook_deliveries (event_id, endpoint_id)
            SELECT event.id, e.id FROM event, webhook_endpoints e WHERE e.active AND $1 = ANY (e.events)
            """,
            // The trace of the request that caused it, for the deliveries to carry on.
            [type.rawValue, data, subjectID, TraceContext.current?.traceID, TraceContext.current?.sampled ?? false]
        )
    }
}
