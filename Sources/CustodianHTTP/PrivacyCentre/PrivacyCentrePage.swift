import CustodianCore
import Foundation
import Hummingbird
import JSONText

/// `/p/{token}`: the privacy centre as a page, for a person with nothing but their link. Their
/// data and a correction form, their consents with give/withdraw, their export, their requests
/// and a form to file one, the policies, where the data came from, how long it is kept, their
/// rights. Every form posts back here with a CSRF token and is answered with the page.
struct PrivacyCentrePage {
    let links: ConsentLinks
    let own: OwnData
    let requestSettings: RequestSettings
    let forms: PageForms
    let gate: PublicGate
    let audit: AuditedRequests

    func register(on routes: inout RouteTable) {
        routes.on(.get, "/p/{token}", use: page { request, _, person in try await render(request, person) })
        routes.on(.post, "/p/{token}/correction", use: page(correct))
        routes.on(.post, "/p/{token}/consents", use: page(decide))
        routes.on(.post, "/p/{token}/requests", use: page(file))
        routes.on(.post, "/p/{token}/policy-acceptances", use: page(accept))
    }

    struct Visit {
        let token: String
        let resolved: ConsentLinks.Resolved
        let language: PageLanguage
        var subject: CustodianCore.Person { resolved.subject }
    }

    /// The gate, the link, and errors as pages in the person's language.
    private func page(_ handler: @escaping @Sendable (Request, AppRequestContext, Visit) async throws -> Response)
        -> RouteTable.Handler
    {
        let guarded = gate.guarding(
            scope: "public-people",
            tokenLooksValid: { context in context.parameters.get("token").map(ConsentLinks.couldBeToken) ?? false },
            { [links, audit] request, context in
                let language = PageLanguage(request)
                guard let token = context.parameters.get("token"), let resolved = try await links.resolve(token, forConsent: false) else {
                    throw PageError(status: .notFound, message: Catalogue.text("error.invalid_link", language))
                }
                var actor = AuditedRequests.actor(.link, context: context)
                actor.linkID = resolved.linkID
                return try await audit.runForThePerson(resolved.subject, as: actor, request, context) {
                    try await handler(request, context, Visit(token: token, resolved: resolved, language: language))
                }
            })
        return { request, context in
            try await PageForms.rendering(PageLanguage(request)) { try await guarded(request, context) }
        }
    }

    /// A posted form, its CSRF token checked.
    private func form(_ request: Request, _ person: Visit) async throws -> FormBody {
        let body = try await FormBody.read(request)
        try forms.check(request, body, capability: "p/" + person.token, language: person.language)
        return body
    }

    /// Runs a change; invalid input shows the page again with the problems (422).
    private func changing(
        _ request: Request, _ person: Visit, done: String, _ change: () async throws -> Void
    ) async throws -> Response {
        try await changing(request, person) {
            try await change()
            return done
        }
    }

    /// As above; the change says which notice fits what it did.
    private func changing(_ request: Request, _ person: Visit, _ change: () async throws -> String) async throws -> Response {
        let done: String
        do {
            done = try await change()
        } catch DomainError.invalid(let problems) {
            return try await render(request, person, errors: problems, status: .unprocessableContent)
        } catch DomainError.conflict(let reason) {
            return try await render(request, person, errors: [FieldError(field: "", message: reason)], status: .conflict)
        }
        return try await render(request, person, notice: Catalogue.text(done, person.language))
    }

    @Sendable func correct(_ request: Request, _: AppRequestContext, _ person: Visit) async throws -> Response {
        let body = try await form(request, person)
        return try await changing(request, person) {
            let allowed = try await own.centre.settings().correctable(for: person.subject.kind)
            var members: [String: JSONValue] = [:]
            for name in allowed {
                guard let value = body.value(name) else { continue }
                let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
                members[name] = trimmed.isEmpty ? .null : .string(trimmed)
            }
            var fields = RequestFields(members: members)
            let table = person.subject.kind.recordTable
            let values = fields.columnValues(table.columns.filter { allowed.contains($0.name) }, creating: false)
            try fields.finish()
            let corrected = try await own.centre.correct(person.subject, values, emailChanges: own.emailChanges)
            return corrected.pendingEmail == nil ? "notice.corrected" : "notice.email_confirmation_sent"
        }
    }

    @Sendable func decide(_ request: Request, _: AppRequestContext, _ person: Visit) async throws -> Response {
        let body = try await form(request, person)
        guard let purpose = body.value("purpose_id").flatMap(UUID.init(uuidString:)),
            let action = body.value("action").flatMap(ConsentLedger.Decision.init(rawValue:))
        else { throw PageError(status: .badRequest, message: Catalogue.text("error.generic", person.language)) }
        return try await changing(request, person, done: "notice.consent_" + action.rawValue) {
            _ = try await own.ledger.record(
                [(purpose, action)], for: person.subject,
                origin: .init(
                    channel: .consentLink, ip: nil, userAgent: request.userAgentForRecords, linkID: person.resolved.linkID))
        }
    }

    @Sendable func file(_ request: Request, context _: AppRequestContext, _ person: Visit) async throws -> Response {
        let body = try await form(request, person)
        return try await changing(request, person, done: "notice.request_filed") {
            guard let kind = body.value("kind").flatMap(RequestCases.Kind.init(rawValue:)) else {
                throw DomainError.invalid([FieldError(field: "kind", message: Catalogue.text("error.choose_kind", person.language))])
            }
            let details = body.value("details")?.trimmingCharacters(in: .whitespacesAndNewlines)
            if let details, details.count > 10000 {
                throw DomainError.invalid([FieldError(field: "details", message: "must be at most 10000 characters")])
            }
            _ = try await own.cases.file(kind, details: details?.isEmpty == false ? details : nil, by: person.subject)
        }
    }

    @Sendable func accept(_ request: Request, context: AppRequestContext, _ person: Visit) async throws -> Response {
        let body = try await form(request, person)
        guard let kind = body.value("kind").flatMap(Policies.Kind.init(rawValue:)),
            let version = body.value("version").flatMap(Int.init), let language = body.value("language").flatMap(Policies.Language.init)
        else { throw PageError(status: .badRequest, message: Catalogue.text("error.generic", person.language)) }
        return try await changing(request, person, done: "notice.accepted") {
            _ = try await own.policies.accept(
                kind, version: version, language: language, by: person.subject,
                origin: .init(context: .privacyCentre, ip: context.clientIP?.description, userAgent: request.userAgentForRecords))
        }
    }

    // MARK: Rendering

    func render(
        _ request: Request, _ person: Visit, notice: String? = nil, errors: [FieldError] = [], status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let language = person.language
        func t(_ key: String) -> String { HTML.escape(Catalogue.text(key, language)) }
        let centre = try await own.centre.view(person.subject, language: Policies.Language(rawValue: language.rawValue) ?? .en)
        let (nonce, cookie) = forms.nonce(request)
        let csrf = forms.hiddenField(nonce: nonce, capability: "p/" + person.token)
        let base = "/p/" + HTML.escape(person.token)
        let controller = HTML.escape(person.resolved.settings.controllerName)
        var html = HTML.languageNav(path: "/p/" + person.token, current: language)
        html += "<h1>\(t("centre.title"))</h1>\n"
        html += "<p>\(t("centre.greeting")) \(HTML.escape(person.resolved.firstName)). \(t("centre.controller")) \(controller).</p>\n"
        if !person.resolved.settings.pageText.isEmpty { html += "<p>\(HTML.escape(person.resolved.settings.pageText))</p>\n" }
        if let notice { html += #"<p class="notice" role="status">\#(HTML.escape(notice))</p>"# + "\n" }
        html += HTML.problems(errors, language)
        if let ground = centre["restriction"]?["ground"]?.string {
            html += #"<p class="notice" id="restriction">\#(t("centre.restricted")) \#(t("ground." + ground))</p>"# + "\n"
        }

        // Your data, and the correction form.
        let data = centre["data"]?.object ?? [:]
        let correctable = Set((centre["correctable"]?.array ?? []).compactMap(\.string))
        html += "<h2 id=\"data\">\(t("centre.data"))</h2>\n<dl>"
        for name in Self.ordered(data.keys) where data[name] != .null {
            html += "<dt>\(HTML.escape(Catalogue.field(name, language)))</dt><dd>\(HTML.escape(Self.display(data[name], language)))</dd>"
        }
        for field in centre["custom_fields"]?.array ?? [] {
            html += "<dt>\(HTML.escape(field["label"]?.string ?? ""))</dt><dd>\(HTML.escape(Self.display(field["value"], language)))</dd>"
        }
        html += "</dl>\n"
        if !correctable.isEmpty {
            html += "<h3>\(t("centre.correct"))</h3>\n<form method=\"post\" action=\"\(base)/correction?lang=\(language.rawValue)\">\(csrf)"
            for name in Self.ordered(correctable) {
                let id = "field-" + name
                html += #"<label for="\#(id)">\#(HTML.escape(Catalogue.field(name, language)))</label>"#
                html += #"<input id="\#(id)" name="\#(HTML.escape(name))" value="\#(HTML.escape(data[name]?.string ?? ""))""#
                html += name == "email" ? #" type="email" autocomplete="email">"# : ">"
            }
            html += "<button type=\"submit\">\(t("centre.save"))</button></form>\n"
        }

        // Consents.
        html += "<h2 id=\"consents\">\(t("centre.consents"))</h2>\n"
        let purposes = centre["purposes"]?.array ?? []
        if purposes.isEmpty { html += "<p>\(t("centre.no_purposes"))</p>\n" }
        for purpose in purposes {
            let state = purpose["consent"]?.string ?? "none"
            html += "<section><h3>\(HTML.escape(purpose["name"]?.string ?? ""))</h3>"
            html += "<p>\(HTML.escape(purpose["description"]?.string ?? ""))</p>"
            html += "<p>\(t("centre.lawful_basis")): \(t("basis." + (purpose["lawful_basis"]?.string ?? "consent")))"
            html += " · \(t("centre.state")): <strong>\(t("consent." + state))</strong></p>"
            // One button per decision open to the person: give or withdraw, and object where Art. 21 allows.
            var actions = [state == "given" ? "withdraw" : "give"]
            if purpose["objectable"] == .bool(true), state != "objected" { actions.append("object") }
            for action in actions {
                html += "<form method=\"post\" action=\"\(base)/consents?lang=\(language.rawValue)\">\(csrf)"
                html += #"<input type="hidden" name="purpose_id" value="\#(HTML.escape(purpose["purpose_id"]?.string ?? ""))">"#
                html += #"<input type="hidden" name="action" value="\#(action)">"#
                html += "<button type=\"submit\">\(t("consent.do_" + action))</button></form>"
            }
            html += "</section>\n"
        }

        // The export.
        html += "<h2 id=\"export\">\(t("centre.export"))</h2>\n<p>\(t("centre.export_text"))</p>\n"
        html += #"<p><a href="/v1/public/people/\#(HTML.escape(person.token))/export" download>\#(t("centre.export_link"))</a></p>"# + "\n"

        // Requests.
        html += "<h2 id=\"requests\">\(t("centre.requests"))</h2>\n"
        let cases = try await own.cases.cases(of: person.subject, after: nil, limit: 50).items
        if cases.isEmpty {
            html += "<p>\(t("centre.no_requests"))</p>\n"
        } else {
            html += "<div class=\"scroll\"><table><thead><tr><th>\(t("centre.request_kind"))</th><th>\(t("centre.request_status"))</th>"
            html += "<th>\(t("centre.request_received"))</th><th>\(t("centre.request_due"))</th></tr></thead><tbody>"
            for item in cases {
                html += "<tr><td>\(t("kind." + item.kind.rawValue))</td><td>\(t("status." + item.status.rawValue))</td>"
                html += "<td>\(Self.date(item.receivedAt))</td><td>\(Self.date(item.dueAt))</td></tr>"
            }
            html += "</tbody></table></div>\n"
        }
        let offered = try await requestSettings.current()
        let kinds = RequestCases.Kind.allCases.filter { offered.allows($0, for: person.subject.kind) }
        if !kinds.isEmpty {
            html += "<h3>\(t("centre.file"))</h3>\n<form method=\"post\" action=\"\(base)/requests?lang=\(language.rawValue)\">\(csrf)"
            html += "<label for=\"kind\">\(t("centre.request_kind"))</label><select id=\"kind\" name=\"kind\" required>"
            html += "<option value=\"\">\(t("centre.choose"))</option>"
            for kind in kinds { html += "<option value=\"\(kind.rawValue)\">\(t("kind." + kind.rawValue))</option>" }
            html += "</select><label for=\"details\">\(t("centre.details"))</label>"
            html += "<textarea id=\"details\" name=\"details\" rows=\"4\" maxlength=\"10000\"></textarea>"
            html += "<button type=\"submit\">\(t("centre.file_button"))</button></form>\n"
        }

        // Policies.
        html += "<h2 id=\"policies\">\(t("centre.policies"))</h2>\n"
        let policies = centre["policies"]?.array ?? []
        if policies.isEmpty { html += "<p>\(t("centre.no_policies"))</p>\n" }
        for policy in policies {
            guard let kind = policy["kind"]?.string.flatMap(Policies.Kind.init(rawValue:)),
                let text = try await own.policies.current(kind, language: Policies.Language(rawValue: language.rawValue))
            else { continue }
            html += "<section><h3>\(HTML.escape(text.title))</h3>"
            html += "<p>\(t("centre.version")) \(text.version) · \(t("centre.effective")) \(Self.date(text.effectiveAt))</p>"
            html += HTML.foldedText(text.body, language)
            if policy["accepted"] == .bool(true) {
                html += "<p><strong>\(t("centre.accepted"))</strong></p>"
            } else {
                html += "<form method=\"post\" action=\"\(base)/policy-acceptances?lang=\(language.rawValue)\">\(csrf)"
                html += #"<input type="hidden" name="kind" value="\#(kind.rawValue)">"#
                html += #"<input type="hidden" name="version" value="\#(text.version)">"#
                html += #"<input type="hidden" name="language" value="\#(text.language.rawValue)">"#
                html += "<button type=\"submit\">\(t("centre.accept"))</button></form>"
            }
            html += "</section>\n"
        }

        // Where the data came from, how long it is kept, what is held, the rights.
        html += "<h2 id=\"about\">\(t("centre.about"))</h2>\n<dl>"
        let source = centre["source"]?.string ?? "staff"
        let sourceText = ["staff", "converted_lead"].contains(source) ? Catalogue.text("source." + source, language) : source
        html += "<dt>\(t("centre.source"))</dt><dd>\(HTML.escape(sourceText))</dd>"
        html += "<dt>\(t("centre.retention"))</dt><dd>\(HTML.escape(centre["retention"]?.string ?? ""))</dd>"
        let categories = (centre["categories"]?.array ?? []).compactMap(\.string).map { Catalogue.text("category." + $0, language) }
        html += "<dt>\(t("centre.categories"))</dt><dd>\(HTML.escape(categories.joined(separator: ", ")))</dd></dl>\n"
        html += Self.responsible(centre, t)
        html += "<h2 id=\"rights\">\(t("centre.rights"))</h2>\n<ul>"
        for right in centre["rights"]?.array ?? [] {
            let name = right["right"]?.string ?? ""
            html +=
                "<li><strong>\(t("right." + name))</strong> (\(HTML.escape(right["article"]?.string ?? "")) \(t("centre.regulation"))): \(t("right." + name + ".how"))</li>"
        }
        html += "</ul>\n"
        let title = Catalogue.text("centre.title", language) + " · " + person.resolved.settings.controllerName
        return HTML.response(HTML.document(language: language, title: title, body: html), status: status, headers: cookie)
    }

    /// Who is responsible, whom to ask and complain to, and who receives the data (GDPR Art.
    /// 13(1)(a)-(e)): from the controller's details and the register's recipients.
    static func responsible(_ centre: JSONValue, _ t: (String) -> String) -> String {
        let controller = centre["controller"] ?? .null
        var html = "<h2 id=\"controller\">\(t("centre.responsible"))</h2>\n<dl>"
        let contact = [controller["name"], controller["address"], controller["email"], controller["phone"]].compactMap { $0?.string }
        html += "<dt>\(t("centre.controller_name"))</dt><dd>\(contact.map(HTML.escape).joined(separator: "<br>"))</dd>"
        if let dpo = controller["dpo"], dpo != .null {
            let lines = [dpo["name"], dpo["email"]].compactMap { $0?.string }.map(HTML.escape)
            html += "<dt>\(t("centre.dpo"))</dt><dd>\(lines.joined(separator: "<br>"))</dd>"
        }
        if let representative = controller["eu_representative"]?.string {
            html += "<dt>\(t("centre.eu_representative"))</dt><dd>\(HTML.escape(representative))</dd>"
        }
        if let authority = controller["supervisory_authority"], authority != .null {
            let name = HTML.escape(authority["name"]?.string ?? authority["url"]?.string ?? "")
            let linked = authority["url"]?.string.map { "<a href=\"\(HTML.escape($0))\" rel=\"noopener\">\(name)</a>" } ?? name
            html += "<dt>\(t("centre.authority"))</dt><dd>\(linked)</dd>"
        }
        let recipients = (centre["recipients"]?.array ?? []).map { recipient in
            HTML.escape(recipient["name"]?.string ?? "") + " (" + t("recipient." + (recipient["kind"]?.string ?? "other")) + ")"
        }
        html +=
            "<dt>\(t("centre.recipients"))</dt><dd>\(recipients.isEmpty ? t("centre.no_recipients") : recipients.joined(separator: "<br>"))</dd>"
        return html + "</dl>\n"
    }

    /// Fields in the order a person reads them (name first, address together), the rest after.
    static let fieldOrder = [
        "name", "first_name", "last_name", "company", "title", "email", "phone", "website", "street", "zip", "city", "state", "country",
        "source",
    ]

    static func ordered(_ names: some Sequence<String>) -> [String] {
        names.filter { $0 != "id" }.sorted { (fieldOrder.firstIndex(of: $0) ?? 99, $0) < (fieldOrder.firstIndex(of: $1) ?? 99, $1) }
    }

    static func display(_ value: JSONValue?, _ language: PageLanguage) -> String {
        switch value {
        case .string(let text)?: text
        case .bool(let flag)?: Catalogue.text(flag ? "value.yes" : "value.no", language)
        case .integer(let number)?: String(number)
        case .number(let number)?: String(number)
        default: "—"
        }
    }

    static func date(_ date: Date) -> String {
        String((JSONValue.timestamp(date).string ?? "").prefix(10))
    }
}
