import Hummingbird

/// The page a mailed link opens (unsubscribe, a consent's confirmation): a title, a text, what it
/// is about, and one button that posts back with a CSRF token. Opening it changes nothing (mail
/// scanners open links); the post does, then says what happened.
enum OneButtonPage {
    struct Texts {
        let title: String
        let text: String
        let button: String
    }

    static func ask(
        _ request: Request, path: String, language: PageLanguage, texts: Texts, about: String = "", pageForms: PageForms
    ) -> Response {
        func t(_ key: String) -> String { HTML.escape(Catalogue.text(key, language)) }
        let (nonce, cookie) = pageForms.nonce(request)
        var html = HTML.languageNav(path: path, current: language)
        html += "<h1>\(t(texts.title))</h1>\n<p>\(t(texts.text))</p>\n" + about
        html += "<form method=\"post\" action=\"\(HTML.escape(path))?lang=\(language.rawValue)\">"
        html += pageForms.hiddenField(nonce: nonce, capability: path)
        html += "<button type=\"submit\">\(t(texts.button))</button></form>"
        return HTML.response(HTML.document(language: language, title: Catalogue.text(texts.title, language), body: html), headers: cookie)
    }

    static func done(language: PageLanguage, title: String, message: String) -> Response {
        let heading = Catalogue.text(title, language)
        let html = "<h1>\(HTML.escape(heading))</h1>\n<p role=\"status\">\(HTML.escape(Catalogue.text(message, language)))</p>"
        return HTML.response(HTML.document(language: language, title: heading, body: html))
    }
}
