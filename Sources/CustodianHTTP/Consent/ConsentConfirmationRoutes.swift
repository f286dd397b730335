import CustodianCore
import Foundation
import Hummingbird
import JSONText

/// `POST /v1/public/consent-confirmations/{token}`: the person confirms a consent given with
/// double opt-in, with the token the mailer sent them (`person.consent_confirmation_requested`).
/// 404 for a token that is not valid or expired, 409 for one used already or overtaken by a
/// later decision.
struct ConsentConfirmationRoutes {
    let confirmations: ConsentConfirmations
    let gate: PublicGate

    func register(on routes: inout RouteTable) {
        routes.on(.post, "/v1/public/consent-confirmations/{token}", use: Self.guarded(confirm, by: gate))
    }

    /// Behind the public gate: a token of the wrong shape is a 404 before any work.
    static func guarded(_ handler: @escaping RouteTable.Handler, by gate: PublicGate) -> RouteTable.Handler {
        gate.guarding(
            scope: "consent-confirmation",
            tokenLooksValid: { context in context.parameters.get("token").map(ConsentConfirmations.couldBeToken) ?? false },
            notFound: invalidToken, handler)
    }

    static func invalidToken() -> ProblemError { ProblemError(.notFound, detail: "this confirmation link is not valid or has expired") }

    @Sendable func confirm(_ request: Request, context: AppRequestContext) async throws -> Response {
        let token = context.parameters.get("token") ?? ""
        let confirmed: ConsentConfirmations.Confirmed
        do {
            confirmed = try await confirmations.confirm(
                token: token, ip: context.clientIP?.description, userAgent: request.userAgentForRecords)
        } catch ConsentConfirmations.Refusal.invalid {
            throw Self.invalidToken()
        } catch ConsentConfirmations.Refusal.superseded {
            throw ProblemError(.conflict, detail: "this consent is confirmed already, or the person decided on the purpose since")
        }
        var response = JSONBody.response(
            .object([
                "purpose_id": .uuid(confirmed.purposeID), "state": .string(ConsentLedger.State.given.rawValue),
                "confirmed_at": .timestamp(confirmed.confirmedAt),
            ]))
        response.headers[.cacheControl] = "no-store"
        return response
    }
}

/// `/c/{token}`: the page a confirmation mail links to, in German or English. Opening it changes
/// nothing (mail scanners open links); its one button posts back with a CSRF token.
struct ConsentConfirmationPage {
    let confirmations: ConsentConfirmations
    let pageForms: PageForms
    let gate: PublicGate

    func register(on routes: inout RouteTable) {
        routes.on(.get, "/c/{token}", use: page(ask))
        routes.on(.post, "/c/{token}", use: page(confirm))
    }

    private func page(_ handler: @escaping RouteTable.Handler) -> RouteTable.Handler {
        let guarded = ConsentConfirmationRoutes.guarded(handler, by: gate)
        return { request, context in try await PageForms.rendering(PageLanguage(request)) { try await guarded(request, context) } }
    }

    @Sendable func ask(_ request: Request, context: AppRequestContext) async throws -> Response {
        let language = PageLanguage(request)
        let token = context.parameters.get("token") ?? ""
        guard let purpose = try await confirmations.purpose(confirmedBy: token) else {
            throw PageError(status: .notFound, message: Catalogue.text("confirmation.invalid", language))
        }
        return OneButtonPage.ask(
            request, path: "/c/" + token, language: language,
            texts: .init(title: "confirmation.title", text: "confirmation.text", button: "confirmation.button"),
            about: "<section><h2>\(HTML.escape(purpose.name))</h2><p>\(HTML.escape(purpose.description))</p></section>\n",
            pageForms: pageForms)
    }

    @Sendable func confirm(_ request: Request, context: AppRequestContext) async throws -> Response {
        let language = PageLanguage(request)
        let token = context.parameters.get("token") ?? ""
        let body = try await FormBody.read(request)
        try pageForms.check(request, body, capability: "/c/" + token, language: language)
        let outcome: String
        do {
            _ = try await confirmations.confirm(token: token, ip: context.clientIP?.description, userAgent: request.userAgentForRecords)
            outcome = "confirmation.done"
        } catch ConsentConfirmations.Refusal.invalid {
            throw PageError(status: .notFound, message: Catalogue.text("confirmation.invalid", language))
        } catch ConsentConfirmations.Refusal.superseded {
            outcome = "confirmation.superseded"
        }
        return OneButtonPage.done(language: language, title: "confirmation.title", message: outcome)
    }
}
