import Foundation
import JSONText
import Postgres

/// Personal data breaches (GDPR Art. 33, 34): the record the controller must keep, the
/// authority's 72-hour deadline (announced when due soon and when missed, like a request case's),
/// and the people a scope reached, read from the audit trail.
public struct Breaches: Sendable {
    public enum Status: String, Sendable, CaseIterable {
        case open
        case authorityNotified = "authority_notified"
        case closed
    }

    /// The categories of the personal-data map a breach can concern.
    public static let categories: Set<String> = [
        "identifier", "name", "contact_data", "professional", "free_text", "custom_fields", "credential", "online_identifier",
        "activity",
    ]

    /// Whose data to look for in the audit trail: what acted (a key, a session, a link), when,
    /// and optionally on which objects (`leads`, `leads/consents`…).
    public struct Scope: Sendable, Equatable {
        public var keyID: UUID?
        public var sessionID: UUID?
        public var linkID: UUID?
        public var from: Date?
        public var before: Date?
        public var objects: [String]?

        public init() {}

        var isEmpty: Bool { keyID == nil && sessionID == nil && linkID == nil && from == nil && before == nil && objects == nil }
    }

    public struct Breach: Sendable {
        public let id: UUID
        public let detectedAt: Date
        public let description: String
        public let categories: [String]
        public let status: Status
        public let authorityDeadlineAt: Date
        public let authorityNotifiedAt: Date?
        public let peopleNotifiedAt: Date?
        public let scope: Scope
        public let createdBy: UUID?
        public let createdAt: Date
        public let updatedAt: Date
        public let revision: Int64
    }

    public struct Changes: Sendable {
        public var description: String?
        public var categories: [String]?
        public var status: Status?
        public var authorityNotifiedAt: Date??
        public var peopleNotifiedAt: Date??
        public var scope: Scope?

        public init() {}
    }

    /// One person the scope reached: when first and last, and how.
    public struct Reached: Sendable {
        public let subjectID: UUID
        /// lead, contact or customer; nil for one no longer there (erased or deleted since).
        public let subjectType: String?
        public let firstAt: Date
        public let lastAt: Date
        public let actions: [String]
    }

    let database: PostgresPool

    public init(database: PostgresPool) { self.database = database }

    static let columns = """
        id, detected_at, description, array_to_json(categories)::text AS categories, status, authority_deadline_at,
        authority_notified_at, people_notified_at, scope_key_id, scope_session_id, scope_link_id, scope_from, scope_before,
        array_to_json(scope_objects)::text AS scope_objects, created_by, created_at, updated_at, revision,
        (extract(epoch FROM created_at) * 1000000)::bigint AS created_at_us
        """

    static func breach(from row: Row) throws -> Breach {
        func strings(_ column: String) throws -> [String]? {
            guard let text: String = try row.decode(column) else { return nil }
            return JSONValue(json: text)?.array?.compactMap(\.string)
        }
        var scope = Scope()
        scope.keyID = try row.decode("scope_key_id")
        scope.sessionID = try row.decode("scope_session_id")
        scope.linkID = try row.decode("scope_link_id")
        scope.from = try row.decode("scope_from")
        scope.before = try row.decode("scope_before")
        scope.objects = try strings("scope_objects")
        return Breach(
            id: try row.decode("id"),
            detectedAt: try row.decode("detected_at"),
            description: try row.decode("description"),
            categories: try strings("categories") ?? [],
            status: try row.decode("status", as: Status.self),
            authorityDeadlineAt: try row.decode("authority_deadline_at"),
            authorityNotifiedAt: try row.decode("authority_notified_at"),
            peopleNotifiedAt: try row.decode("people_notified_at"),
            scope: scope,
            createdBy: try row.decode("created_by"),
            createdAt: try row.decode("created_at"),
            updatedAt: try row.decode("updated_at"),
            revision: try row.decode("revision")
        )
    }

    static func arrayText(_ values: [String]?) -> String? {
        values.map {
            "{"
                + $0.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
                .joined(separator: ",") + "}"
        }
    }

    public func create(detectedAt: Date, description: String, categories: [String], scope: Scope, by actor: UUID) async throws -> Breach {
        try Self.breach(
            from: try await database.query(
                """
                INSERT INTO breaches (detected_at, description, categories, scope_key_id, scope_session_id, scope_link_id, scope_from,
                                      scope_before, scope_objects, created_by)
                VALUES ($1, $2, $3::text[], $4, $5, $6, $7, $8, $9::text[], $10) RETURNING \(Self.columns)
                """,
                [
                    detectedAt, description, Self.arrayText(categories), scope.keyID, scope.sessionID, scope.linkID, scope.from,
                    scope.before, Self.arrayText(scope.objects), actor,
                ]
            ).single())
    }

    public func find(id: UUID) async throws -> Breach {
        guard let row = try await database.query("SELECT \(Self.columns) FROM breaches WHERE id = $1", [id]).first else {
            throw DomainError.notFound(resource: "breach")
        }
        return try Self.breach(from: row)
    }

    public func list(after cursor: Cursor?, limit: Int) async throws -> Page<Breach> {
        let rows = try await database.query(
            """
            SELECT \(Self.columns) FROM breaches WHERE \(Cursor.afterParameters1And2)
            ORDER BY created_at, id LIMIT $3
            """, [cursor?.createdAtMicroseconds, cursor?.id, limit + 1])
        return try Page.keyset(rows, limit: limit, Self.breach(from:))
    }

    public func update(id: UUID, _ changes: Changes, expectedRevision: Int64?) async throws -> Breach {
        try await database.transaction { transaction in
            let current = try Self.breach(
                from: try await transaction.lockRow(
                    "breaches", id: id, selecting: Self.columns, resource: "breach", expectedRevision: expectedRevision))
            let scope = changes.scope ?? current.scope
            return try Self.breach(
                from: try await transaction.query(
                    """
                    UPDATE breaches SET description = $2, categories = $3::text[], status = $4, authority_notified_at = $5,
                        people_notified_at = $6, scope_key_id = $7, scope_session_id = $8, scope_link_id = $9, scope_from = $10,
                        scope_before = $11, scope_objects = $12::text[]
                    WHERE id = $1 RETURNING \(Self.columns)
                    """,
                    [
                        id, changes.description ?? current.description, Self.arrayText(changes.categories ?? current.categories),
                        (changes.status ?? current.status).rawValue, changes.authorityNotifiedAt ?? current.authorityNotifiedAt,
                        changes.peopleNotifiedAt ?? current.peopleNotifiedAt, scope.keyID, scope.sessionID, scope.linkID, scope.from,
                        scope.before, Self.arrayText(scope.objects),
                    ]
                ).single())
        }
    }

    /// The people whose data the breach's scope reached, by id, `limit` after `cursor` (nil:
    /// every one), and whether more follow. An empty scope reaches nobody: it would name everyone.
    public func people(of breach: Breach, after cursor: UUID?, limit: Int?) async throws -> (people: [Reached], more: Bool) {
        let scope = breach.scope
        guard !scope.isEmpty else { return ([], false) }
        let rows = try await database.query(
            """
            WITH reached AS (
                SELECT s.subject_id, min(e.at) AS first_at, max(e.at) AS last_at, array_to_json(array_agg(DISTINCT e.action))::text AS actions
                FROM audit_entries e CROSS JOIN LATERAL unnest(e.subject_ids) AS s (subject_id)
                WHERE ($1::uuid IS NULL OR e.key_id = $1) AND ($2::uuid IS NULL OR e.session_id = $2)
                  AND ($3::uuid IS NULL OR e.link_id = $3) AND ($4::timestamptz IS NULL OR e.at >= $4)
                  AND ($5::timestamptz IS NULL OR e.at < $5) AND ($6::text[] IS NULL OR e.object = ANY ($6::text[]))
                  AND ($7::uuid IS NULL OR s.subject_id > $7)
                GROUP BY s.subject_id
                ORDER BY s.subject_id
                LIMIT $8
            )
            SELECT r.*, CASE WHEN EXISTS (SELECT 1 FROM leads WHERE id = r.subject_id) THEN 'lead'
                             WHEN EXISTS (SELECT 1 FROM contacts WHERE id = r.subject_id) THEN 'contact'
                             WHEN EXISTS (SELECT 1 FROM customers WHERE id = r.subject_id) THEN 'customer' END AS subject_type
            FROM reached r ORDER BY r.subject_id
            """,
            [
                scope.keyID, scope.sessionID, scope.linkID, scope.from, scope.before, Self.arrayText(scope.objects), cursor,
                limit.map { $0 + 1 },
            ]
        )
        let people = try rows.prefix(limit ?? rows.count).map { row in
            Reached(
                subjectID: try row.decode("subject_id"),
                subjectType: try row.decode("subject_type"),
                firstAt: try row.decode("first_at"),
                lastAt: try row.decode("last_at"),
                actions: JSONValue(json: try row.decode("actions", as: String.self))?.array?.compactMap(\.string) ?? []
            )
        }
        return (people, limit.map { rows.count > $0 } ?? false)
    }

    /// Announces each open breach once as its authority deadline comes within 24 hours
    /// (`breach.due_soon`) and once as it passes (`breach.overdue`); how many it announced.
    @Sendable public func announceDeadlines() async throws -> Int {
        try await database.transaction { transaction in
            let rows = try await transaction.query(
                """
                UPDATE breaches SET
                    due_soon_announced_at = coalesce(due_soon_announced_at, now()),
                    overdue_announced_at = CASE WHEN authority_deadline_at <= now() THEN coalesce(overdue_announced_at, now())
                                                ELSE overdue_announced_at END
                WHERE status = 'open' AND authority_notified_at IS NULL
                  AND ((authority_deadline_at <= now() + interval '24 hours' AND due_soon_announced_at IS NULL)
                       OR (authority_deadline_at <= now() AND overdue_announced_at IS NULL))
                RETURNING id, authority_deadline_at, authority_deadline_at <= now() AS overdue
                """)
            for row in rows {
                let overdue: Bool = try row.decode("overdue")
                try await Outbox.emit(
                    overdue ? .breachOverdue : .breachDueSoon,
                    data: .object([
                        "breach_id": .uuid(try row.decode("id", as: UUID.self)),
                        "authority_deadline_at": .timestamp(try row.decode("authority_deadline_at", as: Date.self)),
                    ]), subjectID: nil, on: transaction)
            }
            return rows.count
        }
    }
}
