import Foundation
import JSONText
import Postgres

/// The delivery queue behind the outbox: claimed with a lease by whichever server instance gets
/// there first, attempted, and settled; retried with growing pauses for a day.
public struct WebhookDeliveries: Sendable {
    let database: PostgresPool
    let secrets: ServerSecrets
    /// Where the unsubscribe page and one-click URL of consent events live (none: not added).
    let unsubscribeBaseURL: String?

    public init(database: PostgresPool, secrets: ServerSecrets, unsubscribeBaseURL: String? = nil) {
        self.database = database
        self.secrets = secrets
        self.unsubscribeBaseURL = unsubscribeBaseURL
    }

    /// One message to send, with everything the sender needs.
    public struct Due: Sendable {
        public let deliveryID: UUID
        public let eventID: UUID
        public let type: String
        public let data: JSONValue
        public let eventCreatedAt: Date
        /// The trace of the request that caused the event, carried on as `traceparent`.
        public let trace: TraceContext?
        public let attempt: Int
        public let url: String
        /// The endpoint's `whsec_` secret, unsealed.
        public let secret: String
        /// Why this delivery cannot be sent (its secret or payload was sealed with a key this
        /// server no longer has); nil when it can. Such a delivery fails on its own, visibly.
        public let unusable: String?
    }

    /// Claims up to `limit` due deliveries for `lease`: another instance skips them meanwhile
    /// (SKIP LOCKED), and picks them up again should this one die before settling them.
    public func claim(limit: Int, lease: Duration) async throws -> [Due] {
        let rows = try await database.query(
            """
            WITH claimed AS (
                SELECT id FROM webhook_deliveries
                WHERE status = 'pending' AND next_attempt_at <= now()
                ORDER BY next_attempt_at
                LIMIT $1
                FOR UPDATE SKIP LOCKED
            )
            UPDATE webhook_deliveries d
            SET next_attempt_at = now() + $2::integer * interval '1 millisecond', attempts = d.attempts + 1
            FROM claimed, webhook_events ev, webhook_endpoints ep
            WHERE d.id = claimed.id AND ev.id = d.event_id AND ep.id = d.endpoint_id
            RETURNING d.id AS delivery_id, ev.id AS event_id, ev.type, ev.payload, ev.created_at, ev.trace_id, ev.trace_sampled, d.attempts, ep.url,
                      ep.sealed_secret, ep.secret_key_id
            """,
            [limit, Int(lease.components.seconds * 1000)]
        )
        return try rows.map { row in
            let sealed: [UInt8] = try row.decode("sealed_secret")
            let payload = try row.decode("payload", as: JSONValue.self)
            var secret: [UInt8] = []
            var data = JSONValue.null
            var unusable: String?
            do {
                secret = try secrets.secret(withID: try row.decode("secret_key_id")).open(sealed)
                data = try Outbox.opened(payload, with: secrets)
                data = withUnsubscribeLinks(data, type: try row.decode("type"))
                data = try withConfirmationLink(data, type: try row.decode("type"))
            } catch {
                unusable = "the endpoint's secret or the event's sealed data cannot be opened: \(error)"
            }
            return Due(
                deliveryID: try row.decode("delivery_id"),
                eventID: try row.decode("event_id"),
                type: try row.decode("type"),
                data: data,
                eventCreatedAt: try row.decode("created_at"),
                trace: try row.decode("trace_id", as: String?.self).flatMap {
                    TraceContext(traceID: $0, sampled: try row.decode("trace_sampled"))
                },
                attempt: try row.decode("attempts"),
                url: try row.decode("url"),
                secret: String(decoding: secret, as: UTF8.self),
                unusable: unusable
            )
        }
    }

    /// A consent event, as sent, carries the person's unsubscribe page and one-click URL, for the
    /// mailer's `List-Unsubscribe` (RFC 8058): made when sent, from the server's key, so the
    /// database never holds them.
    private func withUnsubscribeLinks(_ data: JSONValue, type: String) -> JSONValue {
        guard let base = unsubscribeBaseURL.map({ $0.hasSuffix("/") ? String($0.dropLast()) : $0 }), type.hasPrefix("consent."),
            var members = data.object, let id = members["person_id"]?.string.flatMap(UUID.init(uuidString:)),
            let kind = members["person_type"]?.string.flatMap(Person.Kind.init(rawValue:))
        else { return data }
        let token = UnsubscribeToken.issue(for: Person(kind, id: id), with: secrets)
        members["unsubscribe_url"] = .string(base + "/u/" + token)
        members["one_click_unsubscribe_url"] = .string(base + "/v1/public/unsubscribe/" + token)
        return .object(members)
    }

    /// A double opt-in request, as sent, carries the link that confirms it (`/c/{token}`, a page
    /// whose button confirms) and its token: made when sent, so the database never holds them.
    private func withConfirmationLink(_ data: JSONValue, type: String) throws -> JSONValue {
        guard type == EventType.consentConfirmationRequested.rawValue, var members = data.object,
            let request = members["request_id"]?.string.flatMap(UUID.init(uuidString:)),
            let expiresAt = members["expires_at"]?.string.flatMap(RFC3339.date(from:))
        else { return data }
        let token = try ConsentConfirmations.token(request: request, expiresAt: expiresAt, with: secrets)
        members["confirmation_token"] = .string(token)
        if let base = unsubscribeBaseURL.map({ $0.hasSuffix("/") ? String($0.dropLast()) : $0 }) {
            members["confirmation_url"] = .string(base + "/c/" + token)
        }
        return .object(members)
    }

    /// How an attempt went.
    public struct Outcome: Sendable {
        public let responseStatus: Int?
        public let error: String?
        public let duration: Duration

        public init(responseStatus: Int?, error: String?, duration: Duration) {
            self.responseStatus = responseStatus
            self.error = error
            self.duration = duration
        }

        public var succeeded: Bool { (200..<300).contains(responseStatus ?? 0) }
    }

    /// Records the attempt; a 2xx settles the delivery, anything else schedules the next attempt
    /// after `retryDelay(attempt)`, or gives up once the event is older than `giveUpAfter`.
    public func settle(
        _ due: Due, outcome: Outcome, retryDelay: Duration, giveUpAfter: Duration
    ) async throws {
        try await database.transaction { transaction in
            try await transaction.execute(
                """
                INSERT INTO webhook_attempts (delivery_id, response_status, error, duration_ms)
                SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM webhook_deliveries WHERE id = $1)
                """,
                [
                    due.deliveryID, outcome.responseStatus, outcome.error.map { String($0.unicodeScalars.prefix(500)) },
                    Int(outcome.duration.components.seconds * 1000 + outcome.duration.components.attoseconds / 1_000_000_000_000_000),
                ]
            )
            if outcome.succeeded {
                try await transaction.execute(
                    "UPDATE webhook_deliveries SET status = 'delivered', delivered_at = now() WHERE id = $1", [due.deliveryID]
                )
            } else {
                try await transaction.execute(
                    """
                    UPDATE webhook_deliveries d SET
                        status = CASE WHEN ev.created_at + $3::integer * interval '1 millisecond' <= now() THEN 'failed' ELSE 'pending' END,
                        next_attempt_at = now() + $2::integer * interval '1 millisecond'
                    FROM webhook_events ev
                    WHERE d.id = $1 AND ev.id = d.event_id
                    """,
                    [due.deliveryID, Self.milliseconds(retryDelay), Self.milliseconds(giveUpAfter)]
                )
            }
        }
    }

    public static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }

    /// One endpoint's deliveries, newest first, with every attempt.
    public struct Delivery: Sendable {
        public let id: UUID
        public let eventID: UUID
        public let type: String
        public let status: String
        public let attempts: Int
        public let nextAttemptAt: Date?
        public let deliveredAt: Date?
        public let createdAt: Date
        public let tries: [Attempt]
    }

    public struct Attempt: Sendable {
        public let attemptedAt: Date
        public let responseStatus: Int?
        public let error: String?
        public let durationMilliseconds: Int
    }

    public func deliveries(of endpointID: UUID, after cursor: Cursor?, limit: Int) async throws -> Page<Delivery> {
        let found = try await database.query("SELECT 1 FROM webhook_endpoints WHERE id = $1", [endpointID])
        if found.isEmpty { throw DomainError.notFound(resource: "webhook") }
        let rows = try await database.query(
            """
            SELECT d.id, d.event_id, ev.type, d.status, d.attempts, d.next_attempt_at, d.delivered_at, d.created_at,
                   (extract(epoch FROM d.created_at) * 1000000)::bigint AS created_at_us,
                   coalesce((SELECT jsonb_agg(jsonb_build_array(
                                 (extract(epoch FROM a.attempted_at) * 1000)::bigint, a.response_status, a.error, a.duration_ms)
                                 ORDER BY a.attempted_at)
                             FROM webhook_attempts a WHERE a.delivery_id = d.id), '[]') AS tries
            FROM webhook_deliveries d JOIN webhook_events ev ON ev.id = d.event_id
            WHERE d.endpoint_id = $3 AND ($1::bigint IS NULL OR \(Cursor.condition(micros: "$1", id: "$2", alias: "d")))
            ORDER BY d.created_at, d.id LIMIT $4
            """,
            [cursor?.createdAtMicroseconds, cursor?.id, endpointID, limit + 1]
        )
        return try Page.keyset(rows, limit: limit) { row in
            let tries = try row.decode("tries", as: JSONB<[JSONValue]>.self).value.map { entry -> Attempt in
                let parts = entry.array ?? []
                let millis: Int = { if case .integer(let value)? = parts.first { return value } else { return 0 } }()
                let status: Int? = { if parts.count > 1, case .integer(let value) = parts[1] { return value } else { return nil } }()
                let duration: Int = { if parts.count > 3, case .integer(let value) = parts[3] { return value } else { return 0 } }()
                return Attempt(
                    attemptedAt: Date(timeIntervalSince1970: Double(millis) / 1000),
                    responseStatus: status,
                    error: parts.count > 2 ? parts[2].string : nil,
                    durationMilliseconds: duration
                )
            }
            let status: String = try row.decode("status")
            return Delivery(
                id: try row.decode("id"),
                eventID: try row.decode("event_id"),
                type: try row.decode("type"),
                status: status,
                attempts: try row.decode("attempts"),
                nextAttemptAt: status == "pending" ? try row.decode("next_attempt_at") : nil,
                deliveredAt: try row.decode("delivered_at"),
                createdAt: try row.decode("created_at"),
                tries: tries
            )
        }
    }
}
