import CustodianCore
import Foundation
import Hummingbird
import NIOCore

/// `/v1/public/people/{token}`: the person's own way in through their personal link (the token
/// of their consent link): the privacy centre, corrections, consents, requests, acceptances, the
/// export.
struct PublicPeopleRoutes {
    let links: ConsentLinks
    let own: OwnData
    let gate: PublicGate
    let audit: AuditedRequests

    func register(on routes: inout RouteTable) {
        routes.on(.get, "/v1/public/people/{token}", use: guarded { request, _, person in try await own.view(request, person: person) })
        routes.on(
            .patch, "/v1/public/people/{token}", use: guarded { request, _, person in try await own.correct(request, person: person) })
        routes.on(
            .get, "/v1/public/people/{token}/requests",
            use: guarded { request, _, person in try await own.requests(request, person: person) })
        routes.on(
            .post, "/v1/public/people/{token}/requests",
            use: guarded { request, _, person in try await own.file(request, person: person, way: .personalLink) })
        routes.on(.get, "/v1/public/people/{token}/export", use: guarded { _, _, person in try await own.export(person: person) })
        routes.on(
            .get, "/v1/public/people/{token}/consents",
            use: guarded { request, _, person in try await own.consents(request, person: person) }
        )
        routes.on(
            .post, "/v1/public/people/{token}/consents",
            use: guardedLink { request, context, link in
                try await own.decide(request, context: context, person: link.subject, way: .personalLink, linkID: link.linkID)
            })
        routes.on(
            .post, "/v1/public/people/{token}/policy-acceptances",
            use: guarded { request, context, person in try await own.accept(request, context: context, person: person, way: .personalLink) }
        )
        routes.on(.get, "/v1/public/schemas/export", use: schema)
    }

    private static func invalidLink() -> ProblemError {
        ProblemError(.notFound, detail: "this link is not valid")
    }

    /// Runs `handler` for the person the link names; one answer for unknown, replaced, revoked
    /// and expired links.
    private func guarded(_ handler: @escaping @Sendable (Request, AppRequestContext, Person) async throws -> Response)
        -> RouteTable.Handler
    {
        guardedLink { request, context, link in try await handler(request, context, link.subject) }
    }

    /// `guarded`, for handlers that record which link was used.
    private func guardedLink(_ handler: @escaping @Sendable (Request, AppRequestContext, ConsentLinks.Resolved) async throws -> Response)
        -> RouteTable.Handler
    {
        gate.guarding(
            scope: "public-people",
            tokenLooksValid: { context in context.parameters.get("token").map(ConsentLinks.couldBeToken) ?? false },
            notFound: Self.invalidLink,
            { [links, audit] request, context in
                guard let token = context.parameters.get("token"), let resolved = try await links.resolve(token, forConsent: false) else {
                    throw Self.invalidLink()
                }
                var actor = AuditedRequests.actor(.link, context: context)
                actor.linkID = resolved.linkID
                return try await audit.runForThePerson(resolved.subject, as: actor, request, context) {
                    try await handler(request, context, resolved)
                }
            })
    }

    /// The JSON Schema of the export: static, so served without the gate or the database.
    @Sendable func schema(_: Request, context _: AppRequestContext) async throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/schema+json"
        headers[.cacheControl] = "public, max-age=3600"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: ExportSchema.json)))
    }
}
