import CustodianCore
import Foundation
import Hummingbird
import JSONText
import Postgres

/// `GET /v1/audit` (the whole trail, filtered) and `GET /v1/{leads|contacts|customers}/{id}/audit`
/// (one person's): who read or changed whose data, newest first. Admins only: the trail shows
/// what every colleague did.
struct AuditRoutes {
    let database: PostgresPool
    let auth: StaffAuthenticator

    func register(on routes: inout RouteTable) {
        routes.on(.get, "/v1/audit", use: auth.requiring(.admin, everything))
        for kind in DataSubject.Kind.allCases {
            routes.on(.get, "/v1/\(kind.table)/{id}/audit", use: auth.requiring(.admin, person))
        }
    }

    @Sendable func everything(_ request: Request, _: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        var query = ListQuery(request, known: [])
        var filter = AuditTrail.Filter()
        filter.subject = query.uuid("subject_id")
        filter.staffID = query.uuid("staff_id")
        filter.keyID = query.uuid("key_id")
        filter.actorType = query.choice("actor_type", AuditActor.Kind.self)
        filter.action = query.choice("action", AuditTrail.Action.self)
        filter.from = query.timestamp("from")
        filter.before = query.timestamp("before")
        return try await page(filter, &query)
    }

    @Sendable func person(_ request: Request, context: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        var query = ListQuery(request, known: [])
        var filter = AuditTrail.Filter()
        filter.subject = try context.parameters.uuid("id")
        filter.action = query.choice("action", AuditTrail.Action.self)
        filter.from = query.timestamp("from")
        filter.before = query.timestamp("before")
        return try await page(filter, &query)
    }

    private func page(_ filter: AuditTrail.Filter, _ query: inout ListQuery) async throws -> Response {
        let limit = query.limit()
        let cursorText = query.text("cursor", maxLength: 100)
        try query.finish()
        var cursor: (atMicroseconds: Int64, id: Int64)?
        if let cursorText {
            guard let parsed = Self.cursor(cursorText) else { throw DomainError.invalidCursor }
            cursor = parsed
        }
        let (entries, more) = try await AuditTrail.entries(filter, after: cursor, limit: limit, on: database)
        let next = more ? entries.last.map { Self.token(atMicroseconds: $0.atMicroseconds, id: $0.id) } : nil
        return JSONBody.response(JSONValue.object(["data": .array(entries.map(Self.json)), "next_cursor": .string(next)]))
    }

    static func json(_ entry: AuditTrail.Entry) -> JSONValue {
        .object([
            "id": .string(String(entry.id)),
            "at": .timestamp(entry.at),
            "actor_type": .string(entry.actor.kind.rawValue),
            "staff_id": .uuid(entry.actor.staffID),
            "key_id": .uuid(entry.actor.keyID),
            "session_id": .uuid(entry.actor.sessionID),
            "link_id": .uuid(entry.actor.linkID),
            "action": .string(entry.action),
            "object": .string(entry.object),
            "route": .string(entry.actor.route),
            "request_id": .string(entry.actor.requestID),
            "client_ip": .string(entry.actor.clientIP),
            "subject_ids": .array(entry.subjectIDs.map { .uuid($0) }),
        ])
    }

    /// An entry's place in the trail, as an opaque token: base64url of `micros.id`.
    static func token(atMicroseconds: Int64, id: Int64) -> String {
        Data("\(atMicroseconds).\(id)".utf8).base64URLEncoded
    }

    static func cursor(_ token: String) -> (atMicroseconds: Int64, id: Int64)? {
        guard let data = Data(base64URLEncoded: token) else { return nil }
        let parts = String(decoding: data, as: UTF8.self).split(separator: ".")
        guard parts.count == 2, let micros = Int64(parts[0]), Cursor.validMicroseconds.contains(micros), let id = Int64(parts[1]), id > 0
        else { return nil }
        return (micros, id)
    }
}
