import CustodianCore
import Foundation
import Hummingbird
import JSONText

/// Restriction of processing (GDPR Art. 18): `/v1/{leads|contacts|customers}/{id}/restrictions`
/// (the history, and setting one) and `/v1/restrictions/{id}` (one, and lifting it).
struct RestrictionRoutes {
    let restrictions: Restrictions
    let auth: StaffAuthenticator

    func register(on routes: inout RouteTable) {
        for kind in DataSubject.Kind.allCases {
            let path = "/v1/\(kind.table)/{id}/restrictions"
            routes.on(.get, path, use: auth.requiring(.readonly, history(kind)))
            routes.on(.post, path, use: auth.creating(.staff, set(kind)))
        }
        routes.on(.get, "/v1/restrictions/{id}", use: auth.requiring(.readonly, read))
        routes.on(.post, "/v1/restrictions/{id}/lift", use: auth.requiring(.staff, lift))
    }

    static func json(_ restriction: Restrictions.Restriction) -> JSONValue {
        .object([
            "id": .uuid(restriction.id),
            "subject_type": .string(restriction.subject.kind.rawValue),
            "subject_id": .uuid(restriction.subject.id),
            "in_force": .bool(restriction.inForce),
            "ground": .string(restriction.ground.rawValue),
            "reason": .string(restriction.reason),
            "request_id": .uuid(restriction.requestID),
            "set_by": .uuid(restriction.setBy),
            "set_at": .timestamp(restriction.setAt),
            "lifted_by": .uuid(restriction.liftedBy),
            "lifted_at": .timestamp(restriction.liftedAt),
            "lift_reason": restriction.liftReason.map(JSONValue.string) ?? .null,
        ])
    }

    private func history(_ kind: DataSubject.Kind) -> StaffAuthenticator.AuthenticatedHandler {
        { request, context, _ in
            let subject = DataSubject(kind, id: try context.parameters.uuid("id"))
            var query = ListQuery(request)
            let limit = query.limit()
            let cursor = try query.cursor()
            try query.finish()
            return JSONBody.response(try await restrictions.history(of: subject, after: cursor, limit: limit).json(Self.json))
        }
    }

    private func set(_ kind: DataSubject.Kind) -> StaffAuthenticator.AuthenticatedHandler {
        { request, context, actor in
            let subject = DataSubject(kind, id: try context.parameters.uuid("id"))
            var fields = try await RequestFields.read(request)
            let ground = fields.choice("ground", Restrictions.Ground.self, required: true)
            let reason = fields.string("reason", required: true, maxLength: 2000)
            try fields.finish()
            guard let ground = ground.value, let reason = reason.value else { throw DomainError.invalid([]) }
            let restriction = try await restrictions.set(subject, ground: ground, reason: reason, by: actor.member.id)
            return JSONBody.response(Self.json(restriction), status: .created)
                .located(at: "/v1/restrictions/\(restriction.id.lowercasedString)")
        }
    }

    @Sendable func read(_: Request, context: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        let restriction = try await restrictions.find(try context.parameters.uuid("id"))
        try await AuditTrail.record(.read, object: "restrictions", subjects: [restriction.subject.id])
        return JSONBody.response(Self.json(restriction))
    }

    @Sendable func lift(_ request: Request, context: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        let id = try context.parameters.uuid("id")
        var fields = try await RequestFields.read(request)
        let reason = fields.string("reason", required: true, maxLength: 2000)
        try fields.finish()
        guard let reason = reason.value else { throw DomainError.invalid([]) }
        return JSONBody.response(Self.json(try await restrictions.lift(id, reason: reason, by: actor.member.id)))
    }
}
