import CustodianCore
import Hummingbird
import JSONText

/// Turns `Authorization: Bearer <session token>` on `/v1/portal/…` into the contact's session.
/// Every portal route acts on that contact only: none takes a person's id.
struct PortalAuthenticator: Sendable {
    let accounts: PortalAccounts
    let gate: PublicGate
    let audit: AuditedRequests

    typealias SessionHandler = @Sendable (Request, AppRequestContext, PortalAccounts.Session) async throws -> Response

    /// Runs `handler` for a live session. Until the contact has accepted the policies in effect,
    /// only handlers marked `whilePending` run; the rest answer 403 `acceptance-required`.
    func requiring(whilePending: Bool = false, _ handler: @escaping SessionHandler) -> RouteTable.Handler {
        gate.guarding(
            scope: "portal",
            tokenLooksValid: { _ in true },
            { request, context in
                let session = try await Self.refusals { try await authenticate(request) }
                if !whilePending && !session.pendingPolicies.isEmpty {
                    throw ProblemError(
                        .acceptanceRequired,
                        detail: "accept the version in effect of: "
                            + session.pendingPolicies.map(\.rawValue).joined(separator: ", ")
                            + " (POST /v1/portal/me/policy-acceptances)")
                }
                var context = context
                context.logger[metadataKey: "portal_session"] = .string(session.id.lowercasedString)
                var actor = AuditedRequests.actor(.portal, context: context)
                actor.sessionID = session.id
                return try await audit.runForThePerson(session.person, as: actor, request, context) {
                    try await handler(request, context, session)
                }
            })
    }

    private func authenticate(_ request: Request) async throws -> PortalAccounts.Session {
        var challenge = HTTPFields()
        challenge[.wwwAuthenticate] = "Bearer"
        let parts = request.headers[.authorization]?.split(separator: " ", maxSplits: 1) ?? []
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw ProblemError(.sessionRequired, detail: "send Authorization: Bearer <session token>", headers: challenge)
        }
        guard let session = try await accounts.session(token: String(parts[1]).trimmingCharacters(in: .whitespaces)) else {
            throw ProblemError(.sessionRequired, detail: "the session is unknown, ended or expired; log in again", headers: challenge)
        }
        return session
    }

    /// The account rules' refusals as problems.
    static func refusals<Result>(_ body: () async throws -> Result) async throws -> Result {
        do {
            return try await body()
        } catch let refusal as PortalAccounts.Refusal {
            switch refusal {
            case .disabled:
                throw ProblemError(.portalDisabled, detail: "the customer area is not open here")
            case .inactive:
                throw ProblemError(
                    .accountInactive, detail: "your contact or your company's account is inactive; ask the company that keeps your data")
            }
        }
    }
}
