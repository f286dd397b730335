import CustodianCore
import Foundation
import Hummingbird
import JSONText

/// `/v1/forms` (admins define web-to-lead forms) and `/v1/public/forms/{key}` (the form as a
/// page renders it, and submissions).
struct WebFormRoutes {
    let forms: WebForms
    let publicForms: WebForms
    let auth: StaffAuthenticator
    let gate: PublicGate

    /// The field a person never sees and a bot fills in.
    static let honeypot = "homepage"

    func register(on routes: inout RouteTable) {
        routes.on(.post, "/v1/forms", use: auth.creating(.admin, create))
        routes.on(.get, "/v1/forms", use: auth.requiring(.readonly, list))
        routes.on(.get, "/v1/forms/{id}", use: auth.requiring(.readonly, read))
        routes.on(.patch, "/v1/forms/{id}", use: auth.requiring(.admin, update))
        let guarded = { (handler: @escaping RouteTable.Handler) in
            gate.guarding(
                scope: "public-forms",
                tokenLooksValid: { context in context.parameters.get("key").map(WebForms.couldBeKey) ?? false },
                notFound: { ProblemError(.notFound, detail: "no such form") }, handler)
        }
        routes.on(.get, "/v1/public/forms/{key}", use: guarded(show))
        routes.on(.post, "/v1/public/forms/{key}", use: guarded(submit))
    }

    static func json(_ form: WebForms.Form) -> JSONValue {
        .object([
            "id": .uuid(form.id),
            "key": .string(form.key),
            "name": .string(form.name),
            "fields": .array(form.fields.map(JSONValue.string)),
            "required_fields": .array(form.requiredFields.map(JSONValue.string)),
            "purposes": .array(form.purposes.map(JSONValue.uuid)),
            "requires_terms": .bool(form.requiresTerms),
            "requires_privacy": .bool(form.requiresPrivacy),
            "thank_you": .string(form.thankYou),
            "source": .string(form.source),
            "active": .bool(form.active),
            "created_at": .timestamp(form.createdAt),
            "updated_at": .timestamp(form.updatedAt),
        ])
    }

    private static func response(_ form: WebForms.Form, status: HTTPResponse.Status = .ok) -> Response {
        var response = JSONBody.response(json(form), status: status)
        response.headers[.eTag] = ETag.value(form.revision)
        return response
    }

    @Sendable func create(_ request: Request, context _: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        var fields = try await RequestFields.read(request)
        let name = fields.string("name", required: true, maxLength: 200).value
        let asked = fields.names("fields")
        let required = fields.names("required_fields")
        let purposes = fields.uuids("purposes")
        let terms = fields.change("requires_terms")
        let privacy = fields.change("requires_privacy")
        let thankYou = fields.change("thank_you", maxLength: 2000)
        let source = fields.change("source", maxLength: 100)
        if asked == nil { fields.fail("fields", "is required") }
        try fields.finish()
        guard let name, let asked else { throw DomainError.invalid([]) }
        let form = try await forms.create(
            .init(
                name: name, fields: asked, requiredFields: required ?? ["name"], purposes: purposes ?? [], requiresTerms: terms ?? false,
                requiresPrivacy: privacy ?? true, thankYou: thankYou, source: source),
            by: actor.member.id)
        var response = Self.response(form, status: .created)
        response.headers[.location] = "/v1/forms/\(form.id.lowercasedString)"
        return response
    }

    @Sendable func list(_ request: Request, context _: AppRequestContext, actor _: AuthenticatedStaff) async throws -> Response {
        var query = ListQuery(request)
        let limit = query.limit()
        let cursor = try query.cursor()
        try query.finish()
        return JSONBody.response(try await forms.list(after: cursor, limit: limit).json(Self.json))
    }

    @Sendable func read(_: Request, context: AppRequestContext, actor _: AuthenticatedStaff) async throws -> Response {
        Self.response(try await forms.find(id: try context.parameters.uuid("id")))
    }

    @Sendable func update(_ request: Request, context: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        let id = try context.parameters.uuid("id")
        let expected = try ETag.expectedRevision(request)
        var fields = try await RequestFields.read(request)
        let active = fields.change("active")
        let name = fields.change("name", maxLength: 200)
        let thankYou = fields.change("thank_you", maxLength: 2000)
        let terms = fields.change("requires_terms")
        let privacy = fields.change("requires_privacy")
        try fields.finish()
        return Self.response(
            try await forms.update(
                id: id, active: active, name: name, thankYou: thankYou, requiresTerms: terms, requiresPrivacy: privacy,
                expectedRevision: expected, by: actor.member.id))
    }

    /// What a page needs to render the form: its fields, the purposes offered (with their texts)
    /// and the policies to accept (their versions in effect).
    @Sendable func show(_ request: Request, context: AppRequestContext) async throws -> Response {
        try ListQuery(request, known: []).finish()
        let form = try await publicForms.published(key: context.parameters.get("key") ?? "")
        let view = try await publicForms.publicView(of: form)
        var response = JSONBody.response(view, status: .ok)
        response.headers[.cacheControl] = "no-store"
        return response
    }

    /// Creates the lead, its acceptances and its consents, all or nothing. A submission with the
    /// honeypot filled in is answered like any other and stores nothing.
    @Sendable func submit(_ request: Request, context: AppRequestContext) async throws -> Response {
        let form = try await publicForms.published(key: context.parameters.get("key") ?? "")
        var fields = try await RequestFields.read(request)
        let values = fields.columnValues(form.askedColumns, creating: true)
        let consents = fields.uuids("consents") ?? []
        let acceptances = fields.acceptances("accept")
        let trap = fields.rawMember(Self.honeypot)
        let canonical = fields.canonical(leavingOut: [Self.honeypot])
        try fields.finish()
        if let trap, trap != .null, trap != .string("") {
            return Self.thanks(form)
        }
        try await publicForms.submit(
            .init(
                values: values, consents: consents, acceptances: acceptances, canonical: canonical, ip: context.clientIP?.description,
                userAgent: request.userAgentForRecords),
            to: form)
        return Self.thanks(form)
    }

    private static func thanks(_ form: WebForms.Form) -> Response {
        var response = JSONBody.response(JSONValue.object(["thank_you": .string(form.thankYou)]), status: .created)
        response.headers[.cacheControl] = "no-store"
        return response
    }
}

extension RequestFields {
    /// A list of distinct uuids (at most 100); nil when absent.
    mutating func uuids(_ field: String) -> [UUID]? {
        guard let value = rawMember(field) else { return nil }
        guard let items = value.array, items.count <= 100 else {
            fail(field, "must be a list of ids")
            return nil
        }
        let ids = items.compactMap { $0.string.flatMap(UUID.init(uuidString:)) }
        guard ids.count == items.count, Set(ids).count == ids.count else {
            fail(field, "must be a list of distinct ids")
            return nil
        }
        return ids
    }

    /// `[{"kind": "terms" | "privacy", "version": n, "language": "de" | "en"}]`, one per kind.
    mutating func acceptances(_ field: String) -> [(kind: Policies.Kind, version: Int, language: Policies.Language)] {
        guard let value = rawMember(field) else { return [] }
        guard let items = value.array, items.count <= Policies.Kind.allCases.count else {
            fail(field, "must be a list of at most one acceptance per document")
            return []
        }
        var result: [(kind: Policies.Kind, version: Int, language: Policies.Language)] = []
        for (index, item) in items.enumerated() {
            guard let members = item.object, Set(members.keys) == ["kind", "version", "language"],
                let kind = members["kind"]?.string.flatMap(Policies.Kind.init(rawValue:)),
                case .integer(let version)? = members["version"], (1...1_000_000).contains(version),
                let language = members["language"]?.string.flatMap(Policies.Language.init(rawValue:)),
                !result.contains(where: { $0.kind == kind })
            else {
                fail("\(field)[\(index)]", "must be {\"kind\": terms|privacy, \"version\": n, \"language\": de|en}, once per kind")
                continue
            }
            result.append((kind, version, language))
        }
        return result
    }
}
