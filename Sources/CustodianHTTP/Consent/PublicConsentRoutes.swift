import CustodianCore
import Foundation
import Hummingbird

/// `/v1/public/consent/{token}`: the person behind a consent link sees and changes their own
/// consent, with no account. Rate-limited per client address.
struct PublicConsentRoutes {
    let links: ConsentLinks
    let ledger: ConsentLedger
    let limiter: RateLimiter
    let trustForwardedFor: Bool

    func register(on routes: inout RouteTable) {
        routes.on(.get, "/v1/public/consent/{token}", use: limited(show))
        routes.on(.post, "/v1/public/consent/{token}", use: limited(decide))
    }

    private func clientAddress(_ request: Request, _ context: AppRequestContext) -> String {
        if trustForwardedFor, let forwarded = request.headers[.xForwardedFor]?.split(separator: ",").first {
            return forwarded.trimmingCharacters(in: .whitespaces)
        }
        return context.clientAddress ?? "unknown"
    }

    private func limited(_ handler: @escaping RouteTable.Handler) -> RouteTable.Handler {
        { request, context in
            switch try await limiter.hit(scope: "public-consent", client: clientAddress(request, context)) {
            case .allowed:
                return try await handler(request, context)
            case .refused(let seconds):
                var headers = HTTPFields()
                headers[.retryAfter] = "\(seconds)"
                throw ProblemError(
                    .tooManyRequests, detail: "too many requests from your address; try again in \(seconds) s", headers: headers)
            }
        }
    }

    /// One answer for unknown, replaced, revoked and expired tokens: nothing tells them apart.
    private func resolve(_ context: AppRequestContext) async throws -> (
        subject: ConsentSubject, firstName: String, settings: ConsentSettings.Values
    ) {
        guard let token = context.parameters.get("token"), let resolved = try await links.resolve(token) else {
            throw ProblemError(.notFound, detail: "this consent link is not valid")
        }
        return resolved
    }

    private func page(_ subject: ConsentSubject, firstName: String, settings: ConsentSettings.Values) async throws -> Response {
        let states = try await ledger.states(of: subject, activeOnly: true)
        let purposes: [JSONValue] = states.map { state in
            .object([
                "purpose_id": .uuid(state.purpose.id),
                "name": .string(state.purpose.name),
                "description": .string(state.purpose.description),
                "lawful_basis": .string(state.purpose.lawfulBasis.rawValue),
                "version": .integer(state.purpose.currentVersion),
                "state": .string(state.state.rawValue),
            ])
        }
        var response = JSONBody.response(
            JSONValue.object([
                "controller": .string(settings.controllerName),
                "page_text": .string(settings.pageText),
                "first_name": .string(firstName),
                "purposes": .array(purposes),
            ]))
        response.headers[.cacheControl] = "no-store"
        return response
    }

    /// What the person needs to decide: the controller, the purposes with their current text and
    /// the person's state, and their first name — nothing else about them.
    @Sendable func show(_: Request, context: AppRequestContext) async throws -> Response {
        let (subject, firstName, settings) = try await resolve(context)
        return try await page(subject, firstName: firstName, settings: settings)
    }

    /// Records each decision as its own row (channel consent_link, IP, user agent), then answers
    /// like the GET.
    @Sendable func decide(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (subject, firstName, settings) = try await resolve(context)
        var fields = try await RequestFields.read(request)
        let decisions = fields.decisions("decisions")
        try fields.finish()
        let origin = ConsentLedger.Origin(
            channel: .consentLink,
            ip: clientAddress(request, context),
            userAgent: request.headers[.userAgent].map { String($0.prefix(1000)) }
        )
        _ = try await ledger.record(decisions, for: subject, origin: origin)
        return try await page(subject, firstName: firstName, settings: settings)
    }
}

extension RequestFields {
    /// `[{"purpose_id": ..., "action": "give" | "withdraw"}, ...]`: 1 to 100, one per purpose.
    mutating func decisions(_ field: String) -> [(purposeID: UUID, action: ConsentLedger.Action)] {
        guard let value = rawMember(field) else {
            fail(field, "is required")
            return []
        }
        guard let items = value.array, (1...100).contains(items.count) else {
            fail(field, "must be a list of 1 to 100 decisions")
            return []
        }
        var decisions: [(UUID, ConsentLedger.Action)] = []
        for (index, item) in items.enumerated() {
            guard let members = item.object, Set(members.keys).isSubset(of: ["purpose_id", "action"]),
                let id = members["purpose_id"]?.string.flatMap(UUID.init(uuidString:)),
                let action = members["action"]?.string.flatMap(ConsentLedger.Action.init(rawValue:))
            else {
                fail("\(field)[\(index)]", "must be {\"purpose_id\": <uuid>, \"action\": \"give\" or \"withdraw\"}")
                continue
            }
            if decisions.contains(where: { $0.0 == id }) {
                fail("\(field)[\(index)].purpose_id", "decides the same purpose twice")
                continue
            }
            decisions.append((id, action))
        }
        return decisions
    }
}
