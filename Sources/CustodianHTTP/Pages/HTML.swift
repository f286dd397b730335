import CustodianCore
import HTTPTypes
import Hummingbird
import NIOCore

/// Building blocks of the server-rendered pages: escaping, and the document around a page's
/// body. Plain HTML with a little CSS, no JavaScript, readable on a phone.
enum HTML {
    /// Text or attribute value with the five significant characters escaped.
    static func escape(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    static let style = """
        body{font-family:system-ui,sans-serif;line-height:1.5;margin:0 auto;max-width:42rem;padding:1rem;color:#1a1a1a}
        h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-top:1px solid #ccc;padding-top:1rem}
        label{display:block;font-weight:600;margin-top:.75rem}input,select,textarea{font:inherit;width:100%;box-sizing:border-box;padding:.4rem}
        input[type=checkbox]{width:auto;margin-right:.5rem}.check{font-weight:400;display:flex;align-items:flex-start}
        button{font:inherit;margin-top:1rem;padding:.5rem 1rem;cursor:pointer}dt{font-weight:600}dd{margin:0 0 .5rem 0}
        .notice{background:#e7f5e7;border:1px solid #2e7d32;padding:.75rem}.errors{background:#fdecea;border:1px solid #c62828;padding:.75rem}
        .hidden{position:absolute;left:-10000px}nav{text-align:right}table{border-collapse:collapse;width:100%}
        td,th{text-align:left;border-bottom:1px solid #ddd;padding:.3rem}.scroll{overflow-x:auto}
        """

    /// A whole page. `language` goes to `<html lang>`; `alternates` are the links to the page
    /// in the other languages.
    static func document(language: PageLanguage, title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="\(language.rawValue)">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="robots" content="noindex">
        <title>\(escape(title))</title>
        <style>\(style)</style>
        </head>
        <body>
        <main>
        \(body)
        </main>
        </body>
        </html>
        """
    }

    /// The links to `path` in the other languages, the current one in bold.
    static func languageNav(path: String, current: PageLanguage) -> String {
        "<nav>"
            + PageLanguage.allCases.map { other in
                let name = escape(Catalogue.text("language.name", other))
                return other == current
                    ? "<strong>\(name)</strong>"
                    : #"<a href="\#(escape(path))?lang=\#(other.rawValue)" hreflang="\#(other.rawValue)" lang="\#(other.rawValue)">\#(name)</a>"#
            }.joined(separator: " | ") + "</nav>\n"
    }

    /// What was wrong with a post, field by field (a field-less problem stands alone); empty
    /// when nothing was.
    static func problems(_ errors: [FieldError], _ language: PageLanguage) -> String {
        guard !errors.isEmpty else { return "" }
        var html = #"<div class="errors" role="alert"><p>\#(escape(Catalogue.text("error.fix", language)))</p><ul>"#
        for error in errors {
            let field = error.field.isEmpty ? "" : escape(Catalogue.field(error.field, language)) + ": "
            html += "<li>\(field)\(escape(error.message))</li>"
        }
        return html + "</ul></div>\n"
    }

    /// A policy's text, folded away until the person opens it.
    static func foldedText(_ body: String, _ language: PageLanguage) -> String {
        "<details><summary>\(escape(Catalogue.text("centre.read", language)))</summary>"
            + "<div style=\"white-space:pre-wrap\">\(escape(body))</div></details>"
    }

    static let xFrameOptions = HTTPField.Name("X-Frame-Options")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!

    /// The page as an answer: no caching (it holds personal data), no framing, no scripts.
    static func response(_ html: String, status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[.contentSecurityPolicy] = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
        headers[xFrameOptions] = "DENY"
        headers[referrerPolicy] = "no-referrer"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }
}
