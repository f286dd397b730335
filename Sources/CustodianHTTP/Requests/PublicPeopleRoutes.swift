import CustodianCore
import Foundation
import Hummingbird
import NIOCore

/// `/v1/public/people/{token}`: the person's own way in through their personal link (the token
/// of their consent link). Here: filing a request, following their cases, and their export.
struct PublicPeopleRoutes {
    let links: ConsentLinks
    let cases: RequestCases
    let exports: PersonExports
    let policies: Policies
    let centre: PrivacyCentre
    let gate: PublicGate

    func register(on routes: inout RouteTable) {
        routes.on(.get, "/v1/public/people/{token}", use: guarded(view))
        routes.on(.patch, "/v1/public/people/{token}", use: guarded(correct))
        routes.on(.get, "/v1/public/people/{token}/requests", use: guarded(list))
        routes.on(.post, "/v1/public/people/{token}/requests", use: guarded(file))
        routes.on(.get, "/v1/public/people/{token}/export", use: guarded(export))
        routes.on(.post, "/v1/public/people/{token}/policy-acceptances", use: guarded(accept))
        routes.on(.get, "/v1/public/schemas/export", use: schema)
    }

    private static func invalidLink() -> ProblemError {
        ProblemError(.notFound, detail: "this link is not valid")
    }

    private func guarded(_ handler: @escaping RouteTable.Handler) -> RouteTable.Handler {
        gate.guarding(
            scope: "public-people",
            tokenLooksValid: { context in context.parameters.get("token").map(ConsentLinks.couldBeToken) ?? false },
            notFound: Self.invalidLink,
            handler
        )
    }

    private func person(_ context: AppRequestContext) async throws -> ConsentSubject {
        guard let token = context.parameters.get("token"), let resolved = try await links.resolve(token, forConsent: false) else {
            throw Self.invalidLink()
        }
        return resolved.subject
    }

    /// The person's own cases, oldest first.
    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        var query = ListQuery(request)
        let limit = query.limit()
        let cursor = try query.cursor()
        try query.finish()
        let page = try await cases.cases(of: try await person(context), after: cursor, limit: limit)
        var response = JSONBody.response(page.json(RequestJSON.person))
        response.headers[.cacheControl] = "no-store"
        return response
    }

    /// Files a request; the link proves who the person is. Which kinds are offered is in the
    /// request settings.
    @Sendable func file(_ request: Request, context: AppRequestContext) async throws -> Response {
        let person = try await person(context)
        var fields = try await RequestFields.read(request)
        let kind = fields.choice("kind", RequestCases.Kind.self, required: true)
        let details = fields.string("details", required: false, maxLength: 10000).value
        try fields.finish()
        guard let kind = kind.value else { throw DomainError.invalid([]) }
        let filed = try await cases.file(kind, details: details, by: person)
        var response = JSONBody.response(RequestJSON.person(filed), status: .created)
        response.headers[.cacheControl] = "no-store"
        return response
    }

    /// The privacy centre: what is held, why, from where, for how long, and the person's rights.
    @Sendable func view(_ request: Request, context: AppRequestContext) async throws -> Response {
        try ListQuery(request, known: []).finish()
        var response = JSONBody.response(try await centre.view(try await person(context)))
        response.headers[.cacheControl] = "no-store"
        return response
    }

    /// The person corrects the fields the settings allow (422 naming any other), validated as
    /// staff writes are.
    @Sendable func correct(_ request: Request, context: AppRequestContext) async throws -> Response {
        let person = try await person(context)
        var fields = try await RequestFields.read(request)
        // Validated as staff writes are; which of them the person may correct, the centre decides.
        let values = fields.columnValues((person.kind == .lead ? Leads.table : Contacts.table).columns, creating: false)
        try fields.finish()
        var response = JSONBody.response(try await centre.correct(person, values))
        response.headers[.cacheControl] = "no-store"
        return response
    }

    /// The person accepts the version in effect of the terms or the privacy policy.
    @Sendable func accept(_ request: Request, context: AppRequestContext) async throws -> Response {
        let person = try await person(context)
        let (kind, version, language) = try await PolicyRoutes.acceptanceFields(request)
        let accepted = try await policies.accept(
            kind, version: version, language: language, by: person,
            origin: .init(context: .privacyCentre, ip: context.clientIP?.description, userAgent: request.userAgentForRecords))
        var response = JSONBody.response(PolicyRoutes.json(accepted), status: .created)
        response.headers[.cacheControl] = "no-store"
        return response
    }

    /// Everything held on the person, as the export settings allow the person to see it.
    @Sendable func export(_: Request, context: AppRequestContext) async throws -> Response {
        let prepared = try await exports.prepare(try await person(context), for: .person)
        return ExportRoutes.streamed(prepared, exports: exports, by: nil)
    }

    /// The JSON Schema of the export: static, so served without the gate or the database.
    @Sendable func schema(_: Request, context _: AppRequestContext) async throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/schema+json"
        headers[.cacheControl] = "public, max-age=3600"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: ExportSchema.json)))
    }
}
