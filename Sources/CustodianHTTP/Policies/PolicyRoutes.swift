import CustodianCore
import Foundation
import Hummingbird
import JSONText

/// `/v1/policies/{kind}/versions` (publish: admin; list: readonly), `/v1/settings/policies`, the
/// acceptances recorded per person (`/v1/{leads|contacts}/{id}/policy-acceptances`), and the
/// public current version (`/v1/public/policies/{kind}`).
struct PolicyRoutes {
    let policies: Policies
    let publicPolicies: Policies
    let auth: StaffAuthenticator
    let gate: PublicGate

    func register(on routes: inout RouteTable) {
        routes.on(.post, "/v1/policies/{kind}/versions", use: auth.creating(.admin, publish))
        routes.on(.get, "/v1/policies/{kind}/versions", use: auth.requiring(.readonly, versions))
        routes.on(.get, "/v1/settings/policies", use: auth.requiring(.readonly, readSettings))
        routes.on(.patch, "/v1/settings/policies", use: auth.requiring(.admin, updateSettings))
        for (path, kind) in Person.Kind.collections {
            routes.on(.get, path + "/{id}/policy-acceptances", use: auth.requiring(.readonly, acceptances(kind)))
            routes.on(.post, path + "/{id}/policy-acceptances", use: auth.creating(.staff, recordAcceptance(kind)))
        }
        // No token: counted in process only, like the signing keys.
        routes.on(.get, "/v1/public/policies/{kind}", use: gate.guarding(scope: "public-policies", tokenLooksValid: nil, current))
    }

    static func kind(_ context: AppRequestContext) throws -> Policies.Kind {
        guard let kind = context.parameters.get("kind").flatMap(Policies.Kind.init(rawValue:)) else {
            throw ProblemError(.notFound, detail: "the documents are terms and privacy")
        }
        return kind
    }

    static func json(_ version: Policies.Version) -> JSONValue {
        .object([
            "id": .uuid(version.id),
            "kind": .string(version.kind.rawValue),
            "version": .integer(version.version),
            "language": .string(version.language.rawValue),
            "title": .string(version.title),
            "body": .string(version.body),
            "effective_at": .timestamp(version.effectiveAt),
            "published_at": .timestamp(version.publishedAt),
            "published_by": .uuid(version.publishedBy),
        ])
    }

    static func json(_ acceptance: Policies.Acceptance) -> JSONValue {
        .object([
            "id": .uuid(acceptance.id),
            "subject_type": .string(acceptance.subject.kind.rawValue),
            "subject_id": .uuid(acceptance.subject.id),
            "kind": .string(acceptance.kind.rawValue),
            "version": .integer(acceptance.version),
            "language": .string(acceptance.language.rawValue),
            "accepted_at": .timestamp(acceptance.acceptedAt),
            "context": .string(acceptance.context.rawValue),
            "context_id": .uuid(acceptance.contextID),
            "ip": .string(acceptance.ip),
            "user_agent": .string(acceptance.userAgent),
            "staff_id": .uuid(acceptance.staffID),
        ])
    }

    @Sendable func publish(_ request: Request, context: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        let kind = try Self.kind(context)
        var fields = try await RequestFields.read(request)
        let effectiveAt = fields.changeTimestamp("effective_at")
        let texts = fields.policyTexts("texts")
        try fields.finish()
        let published = try await policies.publish(kind, texts: texts, effectiveAt: effectiveAt, by: actor.member.id)
        return JSONBody.response(JSONValue.object(["data": .array(published.map(Self.json))]), status: .created)
            .located(at: request.uri.path)
    }

    @Sendable func versions(_ request: Request, context: AppRequestContext, actor _: AuthenticatedStaff) async throws -> Response {
        let kind = try Self.kind(context)
        var query = ListQuery(request)
        let limit = query.limit()
        let cursor = try query.cursor()
        try query.finish()
        return JSONBody.response(try await policies.versions(of: kind, after: cursor, limit: limit).json(Self.json))
    }

    /// The version in effect, in the language asked for (`?lang=de|en`) or the default one.
    @Sendable func current(_ request: Request, context: AppRequestContext) async throws -> Response {
        let kind = try Self.kind(context)
        var query = ListQuery(request, known: [])
        let language = query.choice("lang", Policies.Language.self)
        try query.finish()
        guard let version = try await publicPolicies.current(kind, language: language) else {
            throw ProblemError(.notFound, detail: "no version of the \(kind.title) is in effect yet")
        }
        var response = JSONBody.response(Self.json(version))
        response.headers[.cacheControl] = "public, max-age=60"
        return response
    }

    func acceptances(_ kind: Person.Kind) -> StaffAuthenticator.AuthenticatedHandler {
        PersonPage.handler(kind, read: policies.acceptances(of:after:limit:), json: Self.json)
    }

    /// An acceptance given to staff (on paper, by phone), recorded with who recorded it.
    func recordAcceptance(_ kind: Person.Kind) -> StaffAuthenticator.AuthenticatedHandler {
        { request, context, actor in
            let subject = try PersonConsentRoutes.subject(kind, context)
            let (document, version, language) = try await Self.acceptanceFields(request)
            let accepted = try await policies.accept(
                document, version: version, language: language, by: subject,
                origin: .init(context: .staff, ip: nil, userAgent: nil, staffID: actor.member.id))
            return JSONBody.response(Self.json(accepted), status: .created).located(at: request.uri.path)
        }
    }

    /// `{"kind": "terms" | "privacy", "version": n, "language": "de" | "en"}`.
    static func acceptanceFields(_ request: Request) async throws -> (Policies.Kind, Int, Policies.Language) {
        var fields = try await RequestFields.read(request)
        let kind = fields.choice("kind", Policies.Kind.self, required: true).value
        let version = fields.integer("version", range: 1...1_000_000)
        if fields.rawMember("version") == nil { fields.fail("version", "is required") }
        let language = fields.choice("language", Policies.Language.self, required: true).value
        try fields.finish()
        guard let kind, let version, let language else { throw DomainError.invalid([]) }
        return (kind, version, language)
    }

    private func settingsResponse(_ settings: (language: Policies.Language, revision: Int64, updatedAt: Date)) -> Response {
        var response = JSONBody.response(
            JSONValue.object(["default_language": .string(settings.language.rawValue), "updated_at": .timestamp(settings.updatedAt)]))
        response.headers[.eTag] = ETag.value(settings.revision)
        return response
    }

    @Sendable func readSettings(_: Request, _: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        settingsResponse(try await policies.defaultLanguage())
    }

    @Sendable func updateSettings(_ request: Request, _: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        let expected = try ETag.expectedRevision(request)
        var fields = try await RequestFields.read(request)
        let language = fields.choice("default_language", Policies.Language.self, required: true).value
        try fields.finish()
        guard let language else { throw DomainError.invalid([]) }
        return settingsResponse(try await policies.setDefaultLanguage(language, expectedRevision: expected, by: actor.member.id))
    }
}

extension RequestFields {
    /// `[{"language": "de" | "en", "title": ..., "body": ...}]`: one per language, at least one.
    mutating func policyTexts(_ field: String) -> [Policies.Text] {
        guard let value = rawMember(field) else {
            fail(field, "is required")
            return []
        }
        guard let items = value.array, (1...Policies.Language.allCases.count).contains(items.count) else {
            fail(field, "must be a list of 1 to \(Policies.Language.allCases.count) texts, one per language")
            return []
        }
        var texts: [Policies.Text] = []
        for (index, item) in items.enumerated() {
            let at = "\(field)[\(index)]"
            guard let members = item.object, Set(members.keys).isSubset(of: ["language", "title", "body"]) else {
                fail(at, "must be an object with language, title and body")
                continue
            }
            guard let language = members["language"]?.string.flatMap(Policies.Language.init(rawValue:)) else {
                fail(at + ".language", "must be one of de, en")
                continue
            }
            guard let title = members["title"]?.string, Self.isText(title, maxLength: 200) else {
                fail(at + ".title", "must be a text of 1 to 200 characters")
                continue
            }
            guard let body = members["body"]?.string, Self.isText(body, maxLength: 100_000) else {
                fail(at + ".body", "must be a text of 1 to 100000 characters")
                continue
            }
            if texts.contains(where: { $0.language == language }) {
                fail(at + ".language", "is given twice")
                continue
            }
            texts.append(Policies.Text(language: language, title: title, body: body))
        }
        return texts
    }

    private static func isText(_ text: String, maxLength: Int) -> Bool {
        !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty && text.unicodeScalars.count <= maxLength
    }
}
