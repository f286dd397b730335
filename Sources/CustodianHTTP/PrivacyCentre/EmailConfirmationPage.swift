import CustodianCore
import Foundation
import Hummingbird

/// `/confirm-email?token=…`: where the link mailed to a new address leads. Opening it changes
/// nothing (mail scanners open links): the page asks, and its button posts the token back with a
/// CSRF token, which confirms.
struct EmailConfirmationPage {
    let emailChanges: EmailChanges
    let pageForms: PageForms
    let gate: PublicGate

    static let path = "/confirm-email"

    func register(on routes: inout RouteTable) {
        routes.on(.get, Self.path, use: page(ask))
        routes.on(.post, Self.path, use: page(confirm))
    }

    private func page(_ handler: @escaping RouteTable.Handler) -> RouteTable.Handler {
        let guarded = gate.guarding(scope: "email-confirmation", tokenLooksValid: nil, handler)
        return { request, context in try await PageForms.rendering(PageLanguage(request)) { try await guarded(request, context) } }
    }

    @Sendable func ask(_ request: Request, _: AppRequestContext) async throws -> Response {
        let language = PageLanguage(request)
        func t(_ key: String) -> String { HTML.escape(Catalogue.text(key, language)) }
        let tokens = QueryParameters(request).all("token")
        guard tokens.count == 1, let token = tokens.first, ConfirmationToken.couldBeToken(token) else {
            throw PageError(status: .notFound, message: Catalogue.text("email.invalid", language))
        }
        let (nonce, cookie) = pageForms.nonce(request)
        var html = "<h1>\(t("email.title"))</h1>\n<p>\(t("email.text"))</p>\n"
        html += "<form method=\"post\" action=\"\(Self.path)?lang=\(language.rawValue)\">"
        html += pageForms.hiddenField(nonce: nonce, capability: Self.path)
        html += #"<input type="hidden" name="token" value="\#(HTML.escape(token))">"#
        html += "<button type=\"submit\">\(t("email.button"))</button></form>"
        return HTML.response(HTML.document(language: language, title: Catalogue.text("email.title", language), body: html), headers: cookie)
    }

    @Sendable func confirm(_ request: Request, _: AppRequestContext) async throws -> Response {
        let language = PageLanguage(request)
        let body = try await FormBody.read(request)
        try pageForms.check(request, body, capability: Self.path, language: language)
        guard let token = body.value("token"), try await emailChanges.confirm(token: token) != nil else {
            throw PageError(status: .unprocessableContent, message: Catalogue.text("email.invalid", language))
        }
        let title = Catalogue.text("email.title", language)
        let html = "<h1>\(HTML.escape(title))</h1>\n<p role=\"status\">\(HTML.escape(Catalogue.text("email.done", language)))</p>"
        return HTML.response(HTML.document(language: language, title: title, body: html))
    }
}
