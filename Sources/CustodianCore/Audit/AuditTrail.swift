import Foundation
import JSONText
import Postgres

/// The audit trail (migration 0031): reads are written here by the code that reads, in the same
/// statement where the read is one statement; changes are written by the database's triggers.
public enum AuditTrail {
    public enum Action: String, Sendable, CaseIterable {
        case read, list, export, feed, view, create, update, delete, erase
    }

    static let actorColumns = "actor_type, staff_id, key_id, session_id, link_id, route, request_id, client_ip"

    /// A read's entry commits with its statement, visible at once, without waiting for the WAL
    /// to reach the disk (`synchronous_commit = off`, for that statement's transaction only):
    /// waiting made every read a durable commit and halved the contact read. A crash may lose
    /// the entries of the last fraction of a second (wal_writer_delay, 200 ms by default) —
    /// reads only: a change's entry is part of the change's own transaction, durable with it.
    static let noFlushWait = "set_config('synchronous_commit', 'off', true) IS NOT NULL"

    /// `select` (rows with an `id` column, the person's) with the entry for what it returns
    /// written by the same statement, as the current actor; `select` unchanged when nobody acts
    /// (housekeeping, tests of the store). Only the first `limit` rows count as returned (a list
    /// reads one more to know whether a page follows). The rows come in `orderBy` order.
    static func audited(
        _ select: String, _ parameters: [any PostgresBindable], action: Action, object: String, limit: Int? = nil, orderBy: String? = nil
    ) -> (sql: String, parameters: [any PostgresBindable]) {
        guard let actor = AuditActor.current, actor.recordsReads else { return (select, parameters) }
        var bindings = parameters
        func bind(_ value: any PostgresBindable) -> String {
            bindings.append(value)
            return "$\(bindings.count)"
        }
        let values = ([action.rawValue, object] + actor.bindings).map(bind).joined(separator: ", ")
        let order = orderBy.map { " ORDER BY \($0)" } ?? ""
        let ids = "(array_agg(read.id\(order)))" + (limit.map { "[1:\(bind($0))]" } ?? "")
        let sql = """
            WITH read AS (\(select)),
            entry AS (
                INSERT INTO audit_entries (action, object, \(actorColumns), subject_ids)
                SELECT \(values), \(ids) FROM read HAVING count(*) > 0 AND \(Self.noFlushWait)
            )
            SELECT * FROM read\(order)
            """
        return (sql, bindings)
    }

    /// Writes an entry for a read that is not one statement (an export, a feed batch, a view), as
    /// the current actor; nothing when nobody acts or nobody was read. Committed before the
    /// caller sends what it read.
    public static func record(_ action: Action, object: String, subjects: [UUID], on database: some Queryable) async throws {
        guard let actor = AuditActor.current, actor.recordsReads, !subjects.isEmpty else { return }
        // The entry names its actor itself: no transaction with the actor's settings around it.
        try await PostgresSession.$transactionSettings.withValue([]) {
            try await insert(actor, action, object: object, subjects: subjects, on: database)
        }
    }

    private static func insert(_ actor: AuditActor, _ action: Action, object: String, subjects: [UUID], on database: some Queryable)
        async throws
    {
        try await database.execute(
            """
            INSERT INTO audit_entries (action, object, \(actorColumns), subject_ids)
            SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::uuid[] WHERE \(Self.noFlushWait)
            """,
            [action.rawValue, object] + actor.bindings + [Self.arrayText(subjects)]
        )
    }

    /// PostgreSQL's text form of a uuid[]: `{id,id}`.
    static func arrayText(_ ids: [UUID]) -> String { "{" + ids.map(\.lowercasedString).joined(separator: ",") + "}" }

    static func uuids(fromArrayText text: String) throws -> [UUID] {
        guard text.hasPrefix("{"), text.hasSuffix("}") else { throw DomainError.conflict("unreadable id list") }
        return try text.dropFirst().dropLast().split(separator: ",").map { item in
            guard let id = UUID(uuidString: String(item)) else { throw DomainError.conflict("unreadable id list") }
            return id
        }
    }

    /// Makes the months ahead and drops those past `keepDays`; the number of months dropped.
    @Sendable public static func upkeep(keepDays: Int, on database: PostgresPool) async throws -> Int {
        let row = try await database.query(
            "SELECT audit_prepare_partitions(2) AS made, audit_expire($1) AS dropped", [max(keepDays, 30)]
        ).single()
        return try row.decode("dropped", as: Int.self)
    }

    public struct Entry: Sendable {
        public let id: Int64
        public let at: Date
        /// `at` in microseconds since 1970, exactly: where a page after this entry starts.
        public let atMicroseconds: Int64
        public let actor: AuditActor
        public let action: String
        public let object: String
        public let subjectIDs: [UUID]
    }

    public struct Filter: Sendable {
        public var subject: UUID?
        public var staffID: UUID?
        public var keyID: UUID?
        public var actorType: AuditActor.Kind?
        public var action: Action?
        public var from: Date?
        public var before: Date?

        public init() {}
    }

    /// Entries matching `filter`, newest first, `limit` of them after `cursor` (an entry's time
    /// and id), and whether more follow.
    public static func entries(
        _ filter: Filter, after cursor: (atMicroseconds: Int64, id: Int64)?, limit: Int, on database: some Queryable
    ) async throws -> (entries: [Entry], more: Bool) {
        var conditions: [String] = []
        var parameters: [any PostgresBindable] = []
        func bind(_ value: any PostgresBindable) -> String {
            parameters.append(value)
            return "$\(parameters.count)"
        }
        if let subject = filter.subject { conditions.append("subject_ids @> ARRAY[\(bind(subject))]::uuid[]") }
        if let staff = filter.staffID { conditions.append("staff_id = \(bind(staff))") }
        if let key = filter.keyID { conditions.append("key_id = \(bind(key))") }
        if let kind = filter.actorType { conditions.append("actor_type = \(bind(kind.rawValue))") }
        if let action = filter.action { conditions.append("action = \(bind(action.rawValue))") }
        if let from = filter.from { conditions.append("at >= \(bind(from))") }
        if let before = filter.before { conditions.append("at < \(bind(before))") }
        if let cursor {
            let micros = bind(cursor.atMicroseconds)
            conditions.append("(at, id) < ('epoch'::timestamptz + \(micros)::bigint * interval '1 microsecond', \(bind(cursor.id)))")
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let rows = try await database.query(
            """
            SELECT id, at, (extract(epoch FROM at) * 1000000)::bigint AS at_us, \(actorColumns), action, object,
                   subject_ids::text AS subject_ids
            FROM audit_entries \(whereClause)
            ORDER BY at DESC, id DESC LIMIT \(bind(limit + 1))
            """, parameters)
        let entries = try rows.prefix(limit).map { row in
            Entry(
                id: try row.decode("id"),
                at: try row.decode("at"),
                atMicroseconds: try row.decode("at_us"),
                actor: AuditActor(
                    kind: try row.decode("actor_type", as: AuditActor.Kind.self), staffID: try row.decode("staff_id"),
                    keyID: try row.decode("key_id"), sessionID: try row.decode("session_id"), linkID: try row.decode("link_id"),
                    route: try row.decode("route"), requestID: try row.decode("request_id"), clientIP: try row.decode("client_ip")),
                action: try row.decode("action"),
                object: try row.decode("object"),
                subjectIDs: try Self.uuids(fromArrayText: try row.decode("subject_ids"))
            )
        }
        return (entries, rows.count > limit)
    }
}
