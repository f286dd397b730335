import CustodianCore
import Foundation
import Hummingbird
import JSONText

/// `POST /v1/public/unsubscribe/{token}`: one-click unsubscribe (RFC 8058). A mail client posts
/// `List-Unsubscribe=One-Click` to the URL a message's `List-Unsubscribe` header names, with no
/// cookie and no page first, so nothing but the token is asked for; the answer is the same for a
/// second post. It withdraws every consent the person gave (GDPR Art. 7(3)), and nothing else.
struct UnsubscribeRoutes {
    let ledger: ConsentLedger
    let secrets: ServerSecrets
    let gate: PublicGate

    func register(on routes: inout RouteTable) {
        routes.on(.post, "/v1/public/unsubscribe/{token}", use: Self.guarded(unsubscribe, by: gate))
    }

    /// Behind the public gate: a token of the wrong shape is a 404 before any work.
    static func guarded(_ handler: @escaping RouteTable.Handler, by gate: PublicGate) -> RouteTable.Handler {
        gate.guarding(
            scope: "unsubscribe",
            tokenLooksValid: { context in context.parameters.get("token").map(UnsubscribeToken.couldBeToken) ?? false },
            notFound: invalidToken, handler)
    }

    static func invalidToken() -> ProblemError { ProblemError(.notFound, detail: "this unsubscribe link is not valid") }

    /// The person a token names; 404 for a token this server did not make.
    static func person(_ context: AppRequestContext, secrets: ServerSecrets) throws -> Person {
        guard let token = context.parameters.get("token"), let person = UnsubscribeToken.open(token, with: secrets) else {
            throw invalidToken()
        }
        return person
    }

    @Sendable func unsubscribe(_ request: Request, context: AppRequestContext) async throws -> Response {
        let person = try Self.person(context, secrets: secrets)
        let withdrawn = try await ledger.unsubscribe(person, ip: context.clientIP?.description, userAgent: request.userAgentForRecords)
        var response = JSONBody.response(.object(["withdrawn": .array(withdrawn.map { .uuid($0.purposeID) })]))
        response.headers[.cacheControl] = "no-store"
        return response
    }
}

/// `/u/{token}`: the unsubscribe page a message links to, in German or English. Opening it
/// changes nothing (mail scanners open links); its one button posts back with a CSRF token.
struct UnsubscribePage {
    let ledger: ConsentLedger
    let secrets: ServerSecrets
    let pageForms: PageForms
    let gate: PublicGate

    func register(on routes: inout RouteTable) {
        routes.on(.get, "/u/{token}", use: page(ask))
        routes.on(.post, "/u/{token}", use: page(confirm))
    }

    private func page(_ handler: @escaping RouteTable.Handler) -> RouteTable.Handler {
        let guarded = UnsubscribeRoutes.guarded(handler, by: gate)
        return { request, context in try await PageForms.rendering(PageLanguage(request)) { try await guarded(request, context) } }
    }

    private func person(_ context: AppRequestContext, _ language: PageLanguage) throws -> (Person, String) {
        guard let token = context.parameters.get("token"), let person = UnsubscribeToken.open(token, with: secrets) else {
            throw PageError(status: .notFound, message: Catalogue.text("unsubscribe.invalid", language))
        }
        return (person, token)
    }

    @Sendable func ask(_ request: Request, context: AppRequestContext) async throws -> Response {
        let language = PageLanguage(request)
        let (_, token) = try person(context, language)
        return OneButtonPage.ask(
            request, path: "/u/" + token, language: language,
            texts: .init(title: "unsubscribe.title", text: "unsubscribe.text", button: "unsubscribe.button"), pageForms: pageForms)
    }

    @Sendable func confirm(_ request: Request, context: AppRequestContext) async throws -> Response {
        let language = PageLanguage(request)
        let (person, token) = try person(context, language)
        let body = try await FormBody.read(request)
        try pageForms.check(request, body, capability: "/u/" + token, language: language)
        _ = try await ledger.unsubscribe(person, ip: context.clientIP?.description, userAgent: request.userAgentForRecords)
        return OneButtonPage.done(language: language, title: "unsubscribe.title", message: "unsubscribe.done")
    }
}
