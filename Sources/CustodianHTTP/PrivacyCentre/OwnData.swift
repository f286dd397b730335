import CustodianCore
import Foundation
import Hummingbird
import JSONText

/// What a person does with their own data, however they proved who they are: the personal link
/// (`/v1/public/people/{token}`) or a customer-area session (`/v1/portal/me`). The person is
/// always the one the link or session names; nothing here takes an id from the request.
struct OwnData: Sendable {
    /// How the person came in: recorded with what they do.
    enum Way: Sendable {
        case personalLink
        case customerArea
    }

    let cases: RequestCases
    let exports: PersonExports
    let policies: Policies
    let centre: PrivacyCentre
    /// How long a chunk of a person's export waits for a reader who stopped reading.
    let exportStallTimeout: Duration
    let emailChanges: EmailChanges
    let ledger: ConsentLedger

    private static func personal(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        var response = JSONBody.response(value, status: status)
        response.headers[.cacheControl] = "no-store"
        return response
    }

    /// The privacy centre: what is held, why, from where, for how long, and the person's rights.
    func view(_ request: Request, person: Person) async throws -> Response {
        try ListQuery(request, known: []).finish()
        return Self.personal(try await centre.view(person))
    }

    /// The person corrects the fields the settings allow (422 naming any other), validated as
    /// staff writes are. A new email is sent a confirmation link instead of being written; the
    /// answer says where it went (`email_confirmation`). With `passwordCheck` (the customer area),
    /// a new email needs `current_password` too.
    func correct(
        _ request: Request, person: Person, passwordCheck: (@Sendable (String) async throws -> Bool)? = nil
    ) async throws -> Response {
        var fields = try await RequestFields.read(request)
        // Validated as staff writes are; which of them the person may correct, the centre decides.
        let values = fields.columnValues(person.kind.recordTable.columns, creating: false)
        var currentPassword: String?
        if passwordCheck != nil {
            let changesEmail = values.contains { if case .text = $0.value { $0.column == "email" } else { false } }
            if changesEmail || fields.has("current_password") { currentPassword = fields.password("current_password") }
        }
        try fields.finish()
        if let passwordCheck, let currentPassword, try await !passwordCheck(currentPassword) {
            throw DomainError.invalid([FieldError(field: "current_password", message: "is not your current password")])
        }
        let corrected = try await centre.correct(person, values, emailChanges: emailChanges)
        guard case .object(var members) = corrected.view, let pending = corrected.pendingEmail else {
            return Self.personal(corrected.view)
        }
        members["email_confirmation"] = .object(["sent_to": .string(pending.email), "expires_at": .timestamp(pending.expiresAt)])
        return Self.personal(.object(members))
    }

    /// The person's own cases, oldest first.
    func requests(_ request: Request, person: Person) async throws -> Response {
        var query = ListQuery(request)
        let limit = query.limit()
        let cursor = try query.cursor()
        try query.finish()
        return Self.personal(try await cases.cases(of: person, after: cursor, limit: limit).json(RequestJSON.person))
    }

    /// Files a request; which kinds are offered is in the request settings.
    func file(_ request: Request, person: Person, way: Way) async throws -> Response {
        var fields = try await RequestFields.read(request)
        let kind = fields.choice("kind", RequestCases.Kind.self, required: true)
        let details = fields.string("details", required: false, maxLength: 10000).value
        try fields.finish()
        guard let kind = kind.value else { throw DomainError.invalid([]) }
        let filed = try await cases.file(kind, details: details, by: person, loggedIn: way == .customerArea)
        return Self.personal(RequestJSON.person(filed), status: .created).located(at: request.uri.path)
    }

    /// The person accepts the version in effect of the terms or the privacy policy.
    func accept(_ request: Request, context: AppRequestContext, person: Person, way: Way) async throws -> Response {
        let (kind, version, language) = try await PolicyRoutes.acceptanceFields(request)
        let accepted = try await policies.accept(
            kind, version: version, language: language, by: person,
            origin: .init(
                context: way == .customerArea ? .customerArea : .privacyCentre, ip: context.clientIP?.description,
                userAgent: request.userAgentForRecords))
        // Acceptances have no list of their own on the person's side: what the person sees now.
        let seenAt = way == .customerArea ? "/v1/portal/me" : String(request.uri.path.dropLast("/policy-acceptances".count))
        return Self.personal(PolicyRoutes.json(accepted), status: .created).located(at: seenAt)
    }

    /// Everything held on the person, as the export settings allow the person to see it.
    func export(person: Person) async throws -> Response {
        ExportRoutes.streamed(
            try await exports.prepare(person, for: .person), exports: exports, by: nil, stallTimeout: exportStallTimeout)
    }

    /// The active purposes with the person's state.
    func consents(_ request: Request, person: Person) async throws -> Response {
        try ListQuery(request, known: []).finish()
        return Self.personal(try await consentStates(person))
    }

    /// Gives or withdraws consents (channel `customer_area`, or `consent_link` with the link
    /// used), then answers like the GET.
    func decide(_ request: Request, context: AppRequestContext, person: Person, way: Way, linkID: UUID? = nil) async throws
        -> Response
    {
        var fields = try await RequestFields.read(request)
        let decisions = fields.decisions("decisions")
        try fields.finish()
        _ = try await ledger.record(
            decisions, for: person,
            origin: .init(
                channel: way == .customerArea ? .customerArea : .consentLink, ip: context.clientIP?.description,
                userAgent: request.userAgentForRecords, linkID: linkID))
        return Self.personal(try await consentStates(person))
    }

    private func consentStates(_ person: Person) async throws -> JSONValue {
        .object(["purposes": ConsentJSON.purposes(try await ledger.states(of: person, activeOnly: true))])
    }
}
