import CustodianCore
import Foundation
import Hummingbird
import JSONText

/// `/v1/public/consent/{token}`: the person behind a consent link sees and changes their own
/// consent, with no account. Guarded by the public gate (concurrency, token shape, rate limit).
struct PublicConsentRoutes {
    let links: ConsentLinks
    let ledger: ConsentLedger
    let receipts: ConsentReceipts
    let gate: PublicGate
    let audit: AuditedRequests

    func register(on routes: inout RouteTable) {
        routes.on(.get, "/v1/public/consent/{token}", use: guarded(show))
        routes.on(.post, "/v1/public/consent/{token}", use: guarded(decide))
    }

    private static func invalidLink() -> ProblemError {
        ProblemError(.notFound, detail: "this consent link is not valid")
    }

    private func guarded(_ handler: @escaping RouteTable.Handler) -> RouteTable.Handler {
        gate.guarding(
            scope: "public-consent",
            tokenLooksValid: { context in context.parameters.get("token").map(ConsentLinks.couldBeToken) ?? false },
            notFound: Self.invalidLink,
            handler
        )
    }

    /// One answer for unknown, replaced, revoked and expired tokens: nothing tells them apart.
    private func resolve(_ context: AppRequestContext) async throws -> ConsentLinks.Resolved {
        guard let token = context.parameters.get("token"), let resolved = try await links.resolve(token) else {
            throw Self.invalidLink()
        }
        return resolved
    }

    private func page(_ resolved: ConsentLinks.Resolved) async throws -> Response {
        let (states, head) = try await ledger.statesAndHead(of: resolved.subject, activeOnly: true)
        var response = JSONBody.response(
            JSONValue.object([
                "controller": .string(resolved.settings.controllerName),
                "page_text": .string(resolved.settings.pageText),
                "first_name": .string(resolved.firstName),
                "purposes": ConsentJSON.purposes(states),
                "chain_head": ConsentJSON.head(head),
                "receipt": ConsentJSON.receipt(try await receipts.receipt(for: head)),
            ])
        )
        response.headers[.cacheControl] = "no-store"
        return response
    }

    /// What the person needs to decide: the controller, the purposes with their current text and
    /// the person's state, their first name — nothing else about them — and a signed receipt of
    /// their history as it stands.
    @Sendable func show(_ request: Request, context: AppRequestContext) async throws -> Response {
        let resolved = try await resolve(context)
        return try await asThePerson(resolved, request, context) { try await page(resolved) }
    }

    /// The person, through their link, in the audit trail.
    private func asThePerson(
        _ resolved: ConsentLinks.Resolved, _ request: Request, _ context: AppRequestContext, _ body: () async throws -> Response
    ) async throws -> Response {
        var actor = AuditedRequests.actor(.link, context: context)
        actor.linkID = resolved.linkID
        return try await audit.runForThePerson(resolved.subject, as: actor, request, context, body)
    }

    /// Records each decision as its own row (channel consent_link, the link, IP, user agent),
    /// then answers like the GET.
    @Sendable func decide(_ request: Request, context: AppRequestContext) async throws -> Response {
        let resolved = try await resolve(context)
        var fields = try await RequestFields.read(request)
        let decisions = fields.decisions("decisions")
        try fields.finish()
        let origin = ConsentLedger.Origin(
            channel: .consentLink,
            ip: context.clientIP?.description,
            userAgent: request.userAgentForRecords,
            linkID: resolved.linkID
        )
        return try await asThePerson(resolved, request, context) {
            _ = try await ledger.record(decisions, for: resolved.subject, origin: origin)
            return try await page(resolved)
        }
    }
}

extension RequestFields {
    /// `[{"purpose_id": ..., "action": "give" | "withdraw" | "object"}, ...]`: 1 to 100, one per purpose.
    mutating func decisions(_ field: String) -> [(purposeID: UUID, action: ConsentLedger.Decision)] {
        guard let value = rawMember(field) else {
            fail(field, "is required")
            return []
        }
        guard let items = value.array, (1...100).contains(items.count) else {
            fail(field, "must be a list of 1 to 100 decisions")
            return []
        }
        var decisions: [(UUID, ConsentLedger.Decision)] = []
        for (index, item) in items.enumerated() {
            guard let members = item.object, Set(members.keys).isSubset(of: ["purpose_id", "action"]),
                let id = members["purpose_id"]?.string.flatMap(UUID.init(uuidString:)),
                let action = members["action"]?.string.flatMap(ConsentLedger.Decision.init(rawValue:))
            else {
                fail("\(field)[\(index)]", "must be {\"purpose_id\": <uuid>, \"action\": \"give\", \"withdraw\" or \"object\"}")
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
