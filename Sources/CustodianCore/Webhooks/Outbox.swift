import Foundation
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
}

public enum Outbox {
    /// `data` holds ids, kinds and dates only; `subjectID` names the person the event is about, so
    /// that erasing them also removes what has not gone out yet.
    static func emit(_ type: EventType, data: JSONValue, subjectID: UUID?, on session: some Queryable) async throws {
        try await session.execute(
            """
            WITH event AS (
                INSERT INTO webhook_events (type, payload, subject_id) VALUES ($1, $2, $3) RETURNING id
            )
            INSERT INTO webhook_deliveries (event_id, endpoint_id)
            SELECT event.id, e.id FROM event, webhook_endpoints e WHERE e.active AND $1 = ANY (e.events)
            """,
            [type.rawValue, JSONB(data), subjectID]
        )
    }
}
