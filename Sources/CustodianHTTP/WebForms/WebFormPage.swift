import CustodianCore
import Foundation
import Hummingbird
import JSONText

/// `/f/{key}`: a web-to-lead form as a page. It posts back to itself with a CSRF token; the
/// answer is the thank-you page, or the form again with the problems and what was typed.
struct WebFormPage {
    let forms: WebForms
    let policies: Policies
    let pageForms: PageForms
    let gate: PublicGate

    func register(on routes: inout RouteTable) {
        routes.on(.get, "/f/{key}", use: page { request, _, form in try await render(request, form) })
        routes.on(.post, "/f/{key}", use: page(submit))
    }

    private func page(_ handler: @escaping @Sendable (Request, AppRequestContext, WebForms.Form) async throws -> Response)
        -> RouteTable.Handler
    {
        let guarded = gate.guarding(
            scope: "public-forms",
            tokenLooksValid: { context in context.parameters.get("key").map(WebForms.couldBeKey) ?? false },
            { [forms] request, context in
                let form = try await forms.published(key: context.parameters.get("key") ?? "")
                return try await handler(request, context, form)
            })
        return { request, context in
            try await PageForms.rendering(PageLanguage(request)) { try await guarded(request, context) }
        }
    }

    @Sendable func submit(_ request: Request, context: AppRequestContext, _ form: WebForms.Form) async throws -> Response {
        let language = PageLanguage(request)
        let body = try await FormBody.read(request)
        try pageForms.check(request, body, capability: "f/" + form.key, language: language)
        // The page's answers as the JSON endpoint takes them, validated the same way.
        var members: [String: JSONValue] = [:]
        for name in form.fields {
            let value = body.value(name)?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            if !value.isEmpty { members[name] = .string(value) }
        }
        var fields = RequestFields(members: members)
        let values = fields.columnValues(form.askedColumns, creating: true)
        let consents = body.values("consent").compactMap(UUID.init(uuidString:))
        let acceptances: [(kind: Policies.Kind, version: Int, language: Policies.Language)] = body.values("accept").compactMap { value in
            // "terms:3:de"
            let parts = value.split(separator: ":")
            guard parts.count == 3, let kind = Policies.Kind(rawValue: String(parts[0])), let version = Int(parts[1]),
                let language = Policies.Language(rawValue: String(parts[2]))
            else { return nil }
            return (kind, version, language)
        }
        let canonical = JSONValue.object(
            members.merging(
                [
                    "consent": .array(consents.map(JSONValue.uuid)),
                    "accept": .array(acceptances.map { .string("\($0.kind.rawValue):\($0.version)") }),
                ],
                uniquingKeysWith: { first, _ in first })
        ).serialized()
        if let trap = body.value(WebFormRoutes.honeypot), !trap.isEmpty { return thanks(form, language) }
        do {
            try fields.finish()
            try await forms.submit(
                .init(
                    values: values, consents: consents, acceptances: acceptances, canonical: canonical,
                    ip: context.clientIP?.description, userAgent: request.userAgentForRecords),
                to: form)
        } catch DomainError.invalid(let problems) {
            return try await render(request, form, typed: body, errors: problems, status: .unprocessableContent)
        }
        return thanks(form, language)
    }

    private func thanks(_ form: WebForms.Form, _ language: PageLanguage) -> Response {
        let title = Catalogue.text("form.thanks", language)
        let body = "<h1>\(HTML.escape(title))</h1>\n<p role=\"status\">\(HTML.escape(form.thankYou))</p>"
        return HTML.response(HTML.document(language: language, title: title, body: body))
    }

    func render(
        _ request: Request, _ form: WebForms.Form, typed: FormBody? = nil, errors: [FieldError] = [], status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let language = PageLanguage(request)
        func t(_ key: String) -> String { HTML.escape(Catalogue.text(key, language)) }
        let view = try await forms.publicView(of: form)
        let (nonce, cookie) = pageForms.nonce(request)
        let action = "/f/\(HTML.escape(form.key))?lang=\(language.rawValue)"
        var html = HTML.languageNav(path: "/f/" + form.key, current: language)
        html += "<h1>\(HTML.escape(form.name))</h1>\n"
        html += HTML.problems(errors, language)
        html += "<form method=\"post\" action=\"\(action)\">"
        html += pageForms.hiddenField(nonce: nonce, capability: "f/" + form.key)
        for name in form.fields {
            let required = form.requiredFields.contains(name)
            let id = "field-" + name
            html +=
                #"<label for="\#(id)">\#(HTML.escape(Catalogue.field(name, language)))\#(required ? " (\(t("form.required")))" : "")</label>"#
            let value = HTML.escape(typed?.value(name) ?? "")
            if name == "description" {
                html += #"<textarea id="\#(id)" name="\#(name)" rows="5"\#(required ? " required" : "")>\#(value)</textarea>"#
            } else {
                let type = name == "email" ? "email" : name == "phone" ? "tel" : name == "website" ? "url" : "text"
                html += #"<input id="\#(id)" name="\#(name)" type="\#(type)" value="\#(value)"\#(required ? " required" : "")>"#
            }
        }
        // A field people never see (and screen readers skip) and bots fill in.
        html += #"<div class="hidden" aria-hidden="true"><label for="homepage">\#(t("form.honeypot"))</label>"#
        html += #"<input id="homepage" name="\#(WebFormRoutes.honeypot)" tabindex="-1" autocomplete="off"></div>"#
        let purposes = view["purposes"]?.array ?? []
        if !purposes.isEmpty {
            html += "<fieldset><legend>\(t("form.consents"))</legend>"
            for purpose in purposes {
                let id = HTML.escape(purpose["id"]?.string ?? "")
                let checked = typed?.values("consent").contains(purpose["id"]?.string ?? "") == true ? " checked" : ""
                html += #"<label class="check"><input type="checkbox" name="consent" value="\#(id)"\#(checked)>"#
                html += "<span><strong>\(HTML.escape(purpose["name"]?.string ?? ""))</strong>: "
                html += "\(HTML.escape(purpose["description"]?.string ?? ""))</span></label>"
            }
            html += "</fieldset>"
        }
        // One checkbox per policy, in the page's language when it has a text in it.
        var shown: Set<String> = []
        let offered = view["policies"]?.array ?? []
        let ordered = offered.filter { $0["language"]?.string == language.rawValue } + offered
        for policy in ordered {
            guard let kind = policy["kind"]?.string, !shown.contains(kind), case .integer(let version)? = policy["version"],
                let policyLanguage = policy["language"]?.string
            else { continue }
            shown.insert(kind)
            let value = "\(kind):\(version):\(policyLanguage)"
            let label = Catalogue.text("form.accept", language)
                .replacingOccurrences(of: "%@", with: policy["title"]?.string ?? kind)
                .replacingOccurrences(of: "%d", with: String(version))
            let text = try await policies.current(
                Policies.Kind(rawValue: kind) ?? .terms, language: Policies.Language(rawValue: policyLanguage))
            html += #"<label class="check"><input type="checkbox" name="accept" value="\#(HTML.escape(value))" required>"#
            html += "<span>\(HTML.escape(label))</span></label>"
            if let text {
                html += HTML.foldedText(text.body, language)
            }
        }
        html += "<button type=\"submit\">\(t("form.submit"))</button></form>\n"
        return HTML.response(HTML.document(language: language, title: form.name, body: html), status: status, headers: cookie)
    }
}
