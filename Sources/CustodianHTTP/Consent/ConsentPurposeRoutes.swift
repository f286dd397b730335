import CustodianCore
import Foundation
import Hummingbird
import JSONText

/// `/v1/consent-purposes`: what people may consent to, with every version of its text.
struct ConsentPurposeRoutes {
    let purposes: ConsentPurposes
    let ledger: ConsentLedger
    let auth: StaffAuthenticator

    func register(on routes: inout RouteTable) {
        routes.on(.get, "/v1/consent-purposes", use: auth.requiring(.readonly, list))
        routes.on(.post, "/v1/consent-purposes", use: auth.creating(.admin, create))
        routes.on(.get, "/v1/consent-purposes/{id}", use: auth.requiring(.readonly, read))
        routes.on(.patch, "/v1/consent-purposes/{id}", use: auth.requiring(.admin, update))
        routes.on(.delete, "/v1/consent-purposes/{id}", use: auth.requiring(.admin, delete))
        routes.on(.get, "/v1/consent-purposes/{id}/consenters", use: auth.requiring(.readonly, consenters))
    }

    static func json(_ purpose: ConsentPurposes.Purpose) -> [String: JSONValue] {
        [
            "id": .uuid(purpose.id),
            "name": .string(purpose.name),
            "description": .string(purpose.description),
            "lawful_basis": .string(purpose.lawfulBasis.rawValue),
            "applies_to": .string(purpose.appliesTo.rawValue),
            "active": .bool(purpose.active),
            "direct_marketing": .bool(purpose.directMarketing),
            "double_opt_in": .bool(purpose.doubleOptIn),
            "version": .integer(purpose.currentVersion),
            "created_at": .timestamp(purpose.createdAt),
            "updated_at": .timestamp(purpose.updatedAt),
        ]
    }

    private func response(_ purpose: ConsentPurposes.Purpose, status: HTTPResponse.Status = .ok) async throws -> Response {
        var body = Self.json(purpose)
        body["versions"] = .array(
            try await purposes.versions(of: purpose.id).map { version in
                .object([
                    "version": .integer(version.version),
                    "name": .string(version.name),
                    "description": .string(version.description),
                    "lawful_basis": .string(version.lawfulBasis.rawValue),
                    "created_at": .timestamp(version.createdAt),
                ])
            })
        var response = JSONBody.response(JSONValue.object(body), status: status)
        response.headers[.eTag] = ETag.value(purpose.revision)
        return response
    }

    /// Purposes, oldest first; filter by `active` and by whom they apply to (`applies_to=leads`
    /// also lists purposes for both).
    @Sendable func list(_ request: Request, _: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        var query = ListQuery(request)
        let limit = query.limit()
        let active = query.bool("active")
        let appliesTo = query.choice("applies_to", ConsentPurposes.AppliesTo.self)
        let cursor = try query.cursor()
        try query.finish()
        let kind: Person.Kind? =
            switch appliesTo {
            case .leads?: .lead
            case .contacts?: .contact
            default: nil
            }
        let page = try await purposes.list(active: active, appliesTo: kind, after: cursor, limit: limit)
        return JSONBody.response(page.json { .object(Self.json($0)) })
    }

    @Sendable func create(_ request: Request, _: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        var fields = try await RequestFields.read(request)
        let name = fields.string("name", required: true, maxLength: 200)
        let description = fields.string("description", required: true, maxLength: 10000)
        let basis = fields.choice("lawful_basis", ConsentPurposes.LawfulBasis.self, required: true)
        let appliesTo = fields.choice("applies_to", ConsentPurposes.AppliesTo.self, required: true)
        let directMarketing = fields.change("direct_marketing") as Bool?
        let doubleOptIn = fields.change("double_opt_in") as Bool?
        try fields.finish()
        guard let name = name.value, let description = description.value, let basis = basis.value, let appliesTo = appliesTo.value else {
            throw DomainError.invalid([])
        }
        let purpose = try await purposes.create(
            name: name, description: description, lawfulBasis: basis, appliesTo: appliesTo,
            directMarketing: directMarketing ?? false, doubleOptIn: doubleOptIn ?? false, by: actor.member.id)
        var response = try await response(purpose, status: .created)
        response.headers[.location] = "/v1/consent-purposes/\(purpose.id.lowercasedString)"
        return response
    }

    @Sendable func read(_: Request, context: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        try await response(try await purposes.find(id: try context.parameters.uuid("id")))
    }

    /// A new name, description or lawful basis adds a version; `active: false` retires the purpose.
    @Sendable func update(_ request: Request, context: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        let id = try context.parameters.uuid("id")
        let expected = try ETag.expectedRevision(request)
        var fields = try await RequestFields.read(request)
        var changes = ConsentPurposes.Changes()
        changes.name = fields.change("name", maxLength: 200)
        changes.description = fields.change("description", maxLength: 10000)
        changes.lawfulBasis = fields.choice("lawful_basis", ConsentPurposes.LawfulBasis.self, required: false).value
        changes.appliesTo = fields.choice("applies_to", ConsentPurposes.AppliesTo.self, required: false).value
        changes.active = fields.change("active")
        changes.directMarketing = fields.change("direct_marketing")
        changes.doubleOptIn = fields.change("double_opt_in")
        try fields.finish()
        return try await response(try await purposes.update(id: id, changes, expectedRevision: expected, by: actor.member.id))
    }

    /// Only for a purpose nobody acted on; otherwise 409: retire it instead.
    @Sendable func delete(_ request: Request, context: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        try await purposes.delete(id: try context.parameters.uuid("id"), expectedRevision: try ETag.expectedRevision(request))
        return Response(status: .noContent)
    }

    /// The people who consent to the purpose now (latest decision a give or a confirmation), for
    /// marketing lists.
    @Sendable func consenters(_ request: Request, context: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        let id = try context.parameters.uuid("id")
        var query = ListQuery(request)
        let limit = query.limit()
        let cursor = try query.cursor()
        try query.finish()
        _ = try await purposes.find(id: id)
        let (items, next) = try await ledger.consenters(of: id, after: cursor?.id, limit: limit)
        // Names and addresses of the people listed: a read of their data.
        try await AuditTrail.record(.list, object: "consenters", subjects: items.map(\.id))
        let data: [JSONValue] = items.map { consenter in
            .object([
                "person_type": .string(consenter.kind.rawValue),
                "id": .uuid(consenter.id),
                "name": .string(consenter.name),
                "email": .string(consenter.email),
                "given_at": .timestamp(consenter.givenAt),
            ])
        }
        let nextCursor = next.map { Cursor(createdAtMicroseconds: 0, id: $0).token }
        return JSONBody.response(JSONValue.object(["data": .array(data), "next_cursor": .string(nextCursor)]))
    }
}
