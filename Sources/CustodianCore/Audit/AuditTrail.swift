import Foundation
import JSONText
import Postgres

/// The audit trail (migration 0031): reads are written here by the code that reads, through the
/// actor's `AuditWriter`, before the answer goes out; changes are written by the database's
/// triggers, with the actor the transaction carries.
public enum AuditTrail {
    public enum Action: String, Sendable, CaseIterable {
        case read, list, export, feed, view, create, update, delete, erase
    }

    static let actorColumns = "actor_type, staff_id, key_id, session_id, link_id, route, request_id, client_ip"

    /// Writes the entry of a read, as the current actor, and returns once it is committed: before
    /// the caller sends what it read. Nothing when nobody acts or nobody was read.
    public static func record(_ action: Action, object: String, subjects: [UUID]) async throws {
        guard let actor = AuditActor.current, actor.recordsReads, let writer = actor.writer, !subjects.isEmpty else { return }
        try await writer.write(
            .object([
                "action": .string(action.rawValue), "object": .string(object), "actor_type": .string(actor.kind.rawValue),
                "staff_id": .uuid(actor.staffID), "key_id": .uuid(actor.keyID), "session_id": .uuid(actor.sessionID),
                "link_id": .uuid(actor.linkID), "route": .string(actor.route), "request_id": .string(actor.requestID),
                "client_ip": .string(actor.clientIP), "subject_ids": .string(arrayText(subjects)),
            ]))
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

    /// Makes the partitions of this month and the next two; how many it made. (Dropping old
    /// months is the owner's: `custodian audit-expire`.)
    @Sendable public static func prepareMonths(on database: PostgresPool) async throws -> Int {
        try await database.query("SELECT audit_prepare_partitions(2) AS made").single().decode("made")
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
