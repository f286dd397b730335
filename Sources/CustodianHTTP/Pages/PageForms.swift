import CustodianCore
import Hummingbird

/// What every page with forms shares: the CSRF nonce cookie and token, and errors answered as
/// pages rather than as problem+json.
struct PageForms: Sendable {
    let protection: FormProtection
    /// The pages are served over https (their public base URL says so): the cookie then never
    /// travels over plain http.
    let secureCookie: Bool

    static let cookieName = "custodian_csrf"

    /// The browser's nonce, or a new one with the `Set-Cookie` that gives it to the browser.
    func nonce(_ request: Request) -> (nonce: String, headers: HTTPFields) {
        if let existing = Self.cookie(request), existing.utf8.count == 22 { return (existing, [:]) }
        let nonce = FormProtection.newNonce()
        var headers = HTTPFields()
        headers[.setCookie] = "\(Self.cookieName)=\(nonce); Path=/; HttpOnly; SameSite=Strict" + (secureCookie ? "; Secure" : "")
        return (nonce, headers)
    }

    static func cookie(_ request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let parts = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0] == cookieName { return String(parts[1]) }
            }
        }
        return nil
    }

    func hiddenField(nonce: String, capability: String) -> String {
        #"<input type="hidden" name="csrf" value="\#(protection.token(nonce: nonce, capability: capability))">"#
    }

    /// Refuses (403, as a page) a post without the cookie or without a token that matches it.
    func check(_ request: Request, _ form: FormBody, capability: String, language: PageLanguage) throws {
        guard let nonce = Self.cookie(request), let token = form.value("csrf"),
            protection.verify(token, nonce: nonce, capability: capability)
        else {
            throw PageError(status: .forbidden, message: Catalogue.text("error.csrf", language))
        }
    }

    /// Runs `body`; what it throws becomes a page in `language` with the matching status.
    static func rendering(_ language: PageLanguage, _ body: () async throws -> Response) async throws -> Response {
        do {
            return try await body()
        } catch let error as PageError {
            return errorPage(error.status, error.message, language)
        } catch let problem as ProblemError {
            let status = HTTPResponse.Status(code: problem.problem.status)
            var response = errorPage(status, Self.message(for: status, language), language)
            if let retry = problem.headers[.retryAfter] { response.headers[.retryAfter] = retry }
            return response
        } catch let error as DomainError {
            let status = HTTPResponse.Status(code: ProblemMiddleware.problem(for: error).problem.status)
            return errorPage(status, Self.message(for: status, language), language)
        }
    }

    private static func message(for status: HTTPResponse.Status, _ language: PageLanguage) -> String {
        switch status.code {
        case 404: Catalogue.text("error.not_found", language)
        case 429: Catalogue.text("error.too_many", language)
        case 503: Catalogue.text("error.busy", language)
        default: Catalogue.text("error.generic", language)
        }
    }

    static func errorPage(_ status: HTTPResponse.Status, _ message: String, _ language: PageLanguage) -> Response {
        let title = Catalogue.text("error.title", language)
        return HTML.response(
            HTML.document(language: language, title: title, body: "<h1>\(HTML.escape(title))</h1>\n<p>\(HTML.escape(message))</p>"),
            status: status)
    }
}

/// A page's own refusal, with the text to show.
struct PageError: Error {
    let status: HTTPResponse.Status
    let message: String
}
