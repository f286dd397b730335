import CustodianCore
import Foundation
import Hummingbird
import JSONText

/// `/v1/legal-holds`: holds that keep a lead, contact or customer (and a customer's contacts)
/// from every erasure, by a retention policy or a case, until lifted with a reason. Admins place
/// and lift them; every staff role reads them.
struct LegalHoldRoutes {
    let holds: LegalHolds
    let auth: StaffAuthenticator

    func register(on routes: inout RouteTable) {
        routes.on(.post, "/v1/legal-holds", use: auth.creating(.admin, place))
        routes.on(.get, "/v1/legal-holds", use: auth.requiring(.readonly, list))
        routes.on(.get, "/v1/legal-holds/{id}", use: auth.requiring(.readonly, read))
        routes.on(.post, "/v1/legal-holds/{id}/lift", use: auth.requiring(.admin, lift))
    }

    static func json(_ hold: LegalHolds.Hold) -> JSONValue {
        .object([
            "id": .uuid(hold.id),
            "subject_type": .string(hold.subject.kind.rawValue),
            "subject_id": .uuid(hold.subject.id),
            "in_force": .bool(hold.inForce),
            "reason": .string(hold.reason),
            "placed_by": .uuid(hold.placedBy),
            "placed_at": .timestamp(hold.placedAt),
            "lifted_by": .uuid(hold.liftedBy),
            "lifted_at": .timestamp(hold.liftedAt),
            "lift_reason": .string(hold.liftReason),
        ])
    }

    @Sendable func place(_ request: Request, _: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        var fields = try await RequestFields.read(request)
        let kind = fields.choice("subject_type", DataSubject.Kind.self, required: true)
        let id = fields.uuid("subject_id", required: true)
        let reason = fields.string("reason", required: true, maxLength: 2000)
        try fields.finish()
        guard let kind = kind.value, let id = id.value, let reason = reason.value else { throw DomainError.invalid([]) }
        let hold = try await holds.place(on: DataSubject(kind, id: id), reason: reason, by: actor.member.id)
        return JSONBody.response(Self.json(hold), status: .created).located(at: "/v1/legal-holds/\(hold.id.lowercasedString)")
    }

    @Sendable func list(_ request: Request, _: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        var query = ListQuery(request)
        let limit = query.limit()
        let cursor = try query.cursor()
        let subjectID = query.uuid("subject_id")
        let inForce = query.bool("in_force")
        try query.finish()
        return JSONBody.response(
            try await holds.list(subjectID: subjectID, inForceOnly: inForce ?? false, after: cursor, limit: limit).json(Self.json))
    }

    @Sendable func read(_: Request, context: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        JSONBody.response(Self.json(try await holds.find(try context.parameters.uuid("id"))))
    }

    @Sendable func lift(_ request: Request, context: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        let id = try context.parameters.uuid("id")
        var fields = try await RequestFields.read(request)
        let reason = fields.string("reason", required: true, maxLength: 2000)
        try fields.finish()
        guard let reason = reason.value else { throw DomainError.invalid([]) }
        return JSONBody.response(Self.json(try await holds.lift(id, reason: reason, by: actor.member.id)))
    }
}
