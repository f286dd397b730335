import CustodianCore
import Foundation
import Hummingbird
import JSONText

/// `/v1/retention-policies`: retention policies (GDPR Art. 5(1)(e)), admins only. A policy is
/// written inactive, its preview read (whom it would erase now and why, and who is exempt), then
/// made active: housekeeping runs it hourly (`custodian retention run` on demand).
struct RetentionRoutes {
    let policies: RetentionPolicies
    let auth: StaffAuthenticator

    func register(on routes: inout RouteTable) {
        routes.on(.post, "/v1/retention-policies", use: auth.creating(.admin, create))
        routes.on(.get, "/v1/retention-policies", use: auth.requiring(.admin, list))
        routes.on(.get, "/v1/retention-policies/{id}", use: auth.requiring(.admin, read))
        routes.on(.patch, "/v1/retention-policies/{id}", use: auth.requiring(.admin, update))
        routes.on(.get, "/v1/retention-policies/{id}/preview", use: auth.requiring(.admin, previewPage))
    }

    static func json(_ policy: RetentionPolicies.Policy) -> JSONValue {
        .object([
            "id": .uuid(policy.id),
            "name": .string(policy.name),
            "subject_type": .string(policy.subjectType.rawValue),
            "inactive_months": .integer(policy.inactiveMonths),
            "activity_of": .string(policy.activityOf.rawValue),
            "lead_statuses": policy.leadStatuses.map { .array($0.map(JSONValue.string)) } ?? .null,
            "action": .string(policy.action.rawValue),
            "active": .bool(policy.active),
            "description": .string(RetentionStatement.sentence(policy, language: .en)),
            "last_run_at": .timestamp(policy.lastRunAt),
            "created_by": .uuid(policy.createdBy),
            "created_at": .timestamp(policy.createdAt),
            "updated_at": .timestamp(policy.updatedAt),
        ])
    }

    private func response(_ policy: RetentionPolicies.Policy, status: HTTPResponse.Status = .ok) -> Response {
        var response = JSONBody.response(Self.json(policy), status: status)
        response.headers[.eTag] = ETag.value(policy.revision)
        return response
    }

    /// `lead_statuses`: null, or 1 to 20 status names.
    private static func statuses(_ fields: inout RequestFields) -> [String]?? {
        guard let value = fields.rawMember("lead_statuses") else { return nil }
        if value == .null { return .some(nil) }
        guard let items = value.array, (1...20).contains(items.count), case let names = items.compactMap(\.string),
            names.count == items.count, names.allSatisfy({ RequestFields.problem(withText: $0, maxLength: 50) == nil })
        else {
            fields.fail("lead_statuses", "must be null or a list of 1 to 20 lead statuses (lost, junk...)")
            return nil
        }
        return .some(Array(Set(names.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) })).sorted())
    }

    @Sendable func create(_ request: Request, _: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        var fields = try await RequestFields.read(request)
        let name = fields.string("name", required: true, maxLength: 200)
        let subjectType = fields.choice("subject_type", Person.Kind.self, required: true)
        let months = fields.integer("inactive_months", range: 1...1200)
        if months == nil && !fields.has("inactive_months") { fields.fail("inactive_months", "is required") }
        let activityOf = fields.choice("activity_of", RetentionPolicies.ActivityOf.self, required: false)
        let statuses = Self.statuses(&fields)
        let action = fields.choice("action", RetentionPolicies.Action.self, required: false)
        let active = fields.bool("active", required: false)
        try fields.finish()
        guard let name = name.value, let subjectType = subjectType.value, let months else { throw DomainError.invalid([]) }
        let definition = RetentionPolicies.Definition(
            name: name, subjectType: subjectType, inactiveMonths: months, activityOf: activityOf.value ?? .record,
            leadStatuses: statuses ?? nil, action: action.value ?? .erase, active: active.value ?? false)
        let policy = try await policies.create(definition, by: actor.member.id)
        return response(policy, status: .created).located(at: "/v1/retention-policies/\(policy.id.lowercasedString)")
    }

    @Sendable func list(_ request: Request, _: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        var query = ListQuery(request)
        let limit = query.limit()
        let cursor = try query.cursor()
        try query.finish()
        return JSONBody.response(try await policies.list(after: cursor, limit: limit).json(Self.json))
    }

    @Sendable func read(_: Request, context: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        response(try await policies.find(try context.parameters.uuid("id")))
    }

    @Sendable func update(_ request: Request, context: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        let id = try context.parameters.uuid("id")
        let expected = try ETag.expectedRevision(request)
        var fields = try await RequestFields.read(request)
        let name = fields.change("name", maxLength: 200)
        let subjectType = fields.choice("subject_type", Person.Kind.self, required: false).value
        let months = fields.integer("inactive_months", range: 1...1200)
        let activityOf = fields.choice("activity_of", RetentionPolicies.ActivityOf.self, required: false).value
        let statuses = Self.statuses(&fields)
        let action = fields.choice("action", RetentionPolicies.Action.self, required: false).value
        let active = fields.change("active")
        try fields.finish()
        let policy = try await policies.update(id, expectedRevision: expected, by: actor.member.id) { definition in
            if let name { definition.name = name }
            if let subjectType { definition.subjectType = subjectType }
            if let months { definition.inactiveMonths = months }
            if let activityOf { definition.activityOf = activityOf }
            if let statuses { definition.leadStatuses = statuses }
            if let action { definition.action = action }
            if let active { definition.active = active }
        }
        return response(policy)
    }

    static func json(_ match: RetentionPreview.Match, of policy: RetentionPolicies.Policy) -> JSONValue {
        .object([
            "subject_type": .string(match.subject.kind.rawValue),
            "subject_id": .uuid(match.subject.id),
            "last_activity_at": .timestamp(match.lastActivityAt),
            "status": .string(match.status),
            "reason": .string(match.reason(policy)),
            "outcome": .string(match.exemption == nil ? "erase" : "exempt"),
            "exempt_because": .string(match.exemption?.code),
            "exemption_id": .uuid(match.exemption?.id),
        ])
    }

    /// The dry run: whom the policy matches now (whether active or not), a page at a time.
    @Sendable func previewPage(_ request: Request, context: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        let policy = try await policies.find(try context.parameters.uuid("id"))
        var query = ListQuery(request)
        let limit = query.limit()
        let cursor = try query.cursor()
        try query.finish()
        let page = try await policies.preview(policy, after: cursor?.id, limit: limit)
        return JSONBody.response(
            JSONValue.object([
                "policy_id": .uuid(policy.id),
                "evaluated_at": .timestamp(Date()),
                "matched": .integer(page.matched),
                "to_erase": .integer(page.matched - page.exempt),
                "exempt": .integer(page.exempt),
                "data": .array(page.matches.map { Self.json($0, of: policy) }),
                "next_cursor": .string(page.nextAfter.map { Cursor(createdAtMicroseconds: 0, id: $0).token }),
            ]))
    }
}
