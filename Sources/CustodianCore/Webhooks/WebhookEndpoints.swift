import Foundation
import Postgres

/// Admin-registered receivers of events, each with a signing secret shown once and kept sealed
/// with the server's secret key.
public struct WebhookEndpoints: Sendable {
    let database: PostgresPool
    let secrets: ServerSecrets

    public init(database: PostgresPool, secrets: ServerSecrets) {
        self.database = database
        self.secrets = secrets
    }

    public struct Endpoint: Sendable {
        public let id: UUID
        public let url: String
        public let events: [EventType]
        public let description: String?
        public let active: Bool
        public let revision: Int64
        public let createdAt: Date
        public let updatedAt: Date
    }

    static let columns = """
        id, url, to_jsonb(events) AS events, description, active, revision, created_at, updated_at,
        (extract(epoch FROM created_at) * 1000000)::bigint AS created_at_us
        """

    static func endpoint(from row: Row) throws -> Endpoint {
        Endpoint(
            id: try row.decode("id"),
            url: try row.decode("url"),
            events: try row.decodeNames("events"),
            description: try row.decode("description"),
            active: try row.decode("active"),
            revision: try row.decode("revision"),
            createdAt: try row.decode("created_at"),
            updatedAt: try row.decode("updated_at")
        )
    }

    /// Registers an endpoint; the answer's secret is the only time it is shown.
    public func create(url: String, events: [EventType], description: String?, by actor: UUID) async throws -> (Endpoint, secret: String) {
        let secret = WebhookSignature.newSecret()
        let sealed = try secrets.current.seal(Array(secret.utf8))
        let row = try await database.query(
            """
            INSERT INTO webhook_endpoints (url, events, description, sealed_secret, secret_key_id, created_by, updated_by)
            VALUES ($1, ARRAY(SELECT jsonb_array_elements_text($2)), $3, $4, $5, $6, $6)
            RETURNING \(Self.columns)
            """,
            [url, JSONB(events.map(\.rawValue)), description, sealed, secrets.current.keyID, actor]
        ).single()
        return (try Self.endpoint(from: row), secret)
    }

    public func find(id: UUID) async throws -> Endpoint {
        let rows = try await database.query("SELECT \(Self.columns) FROM webhook_endpoints WHERE id = $1", [id])
        guard let row = rows.first else { throw DomainError.notFound(resource: "webhook") }
        return try Self.endpoint(from: row)
    }

    public func list(after cursor: Cursor?, limit: Int) async throws -> Page<Endpoint> {
        let rows = try await database.query(
            """
            SELECT \(Self.columns) FROM webhook_endpoints
            WHERE \(Cursor.afterParameters1And2)
            ORDER BY created_at, id LIMIT $3
            """,
            [cursor?.createdAtMicroseconds, cursor?.id, limit + 1]
        )
        return try Page.keyset(rows, limit: limit, Self.endpoint(from:))
    }

    public struct Changes: Sendable {
        public var url: String?
        public var events: [EventType]?
        public var description: String??
        public var active: Bool?

        public init() {}
    }

    public func update(id: UUID, _ changes: Changes, expectedRevision: Int64?, by actor: UUID) async throws -> Endpoint {
        try await database.transaction { transaction in
            _ = try await transaction.lockRow("webhook_endpoints", id: id, resource: "webhook", expectedRevision: expectedRevision)
            let row = try await transaction.query(
                """
                UPDATE webhook_endpoints SET
                    url = coalesce($2, url),
                    events = CASE WHEN $3::jsonb IS NULL THEN events ELSE ARRAY(SELECT jsonb_array_elements_text($3)) END,
                    description = CASE WHEN $4 THEN $5 ELSE description END,
                    active = coalesce($6, active),
                    updated_by = $7
                WHERE id = $1
                RETURNING \(Self.columns)
                """,
                [
                    id, changes.url, changes.events.map { JSONB($0.map(\.rawValue)) }, changes.description != nil,
                    changes.description ?? nil, changes.active, actor,
                ]
            ).single()
            return try Self.endpoint(from: row)
        }
    }

    /// Removes the endpoint and what it has not been sent yet.
    public func delete(id: UUID) async throws {
        let removed = try await database.execute("DELETE FROM webhook_endpoints WHERE id = $1", [id])
        if removed == 0 { throw DomainError.notFound(resource: "webhook") }
    }
}
