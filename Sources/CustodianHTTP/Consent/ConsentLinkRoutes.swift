import CustodianCore
import Foundation
import Hummingbird
import JSONText

/// `/v1/{leads|contacts}/{id}/consent-link`: issue (or rotate) and revoke a person's link, and
/// `/consent-link-history`: every link they ever had, with who issued and ended it.
struct ConsentLinkRoutes {
    let links: ConsentLinks
    let auth: StaffAuthenticator
    /// Links are this plus `/` and the token, e.g. https://crm.example.com/consent/<token>.
    let baseURL: String

    func register(on routes: inout RouteTable) {
        for (path, kind) in Person.Kind.collections {
            routes.on(.post, path + "/{id}/consent-link", use: auth.creatingSecret(.staff, issue(kind)))
            routes.on(.delete, path + "/{id}/consent-link", use: auth.requiring(.staff, revoke(kind)))
            routes.on(.get, path + "/{id}/consent-link-history", use: auth.requiring(.readonly, list(kind)))
        }
    }

    /// Returns the link once; issuing again replaces it and the old one stops working.
    func issue(_ kind: Person.Kind) -> StaffAuthenticator.AuthenticatedHandler {
        { request, context, actor in
            let issued = try await links.issue(for: try PersonConsentRoutes.subject(kind, context), by: actor.member.id)
            let base = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
            var response = JSONBody.response(
                JSONValue.object([
                    "link_id": .uuid(issued.id),
                    "url": .string(base + "/" + issued.token),
                    "expires_at": .timestamp(issued.expiresAt),
                ]),
                status: .created
            )
            // The link's own URI takes only DELETE; the history lists it with its state.
            .located(at: request.uri.path + "-history")
            response.headers[.cacheControl] = "no-store"
            return response
        }
    }

    func revoke(_ kind: Person.Kind) -> StaffAuthenticator.AuthenticatedHandler {
        { _, context, actor in
            try await links.revoke(for: try PersonConsentRoutes.subject(kind, context), by: actor.member.id)
            return Response(status: .noContent)
        }
    }

    /// Newest first; a link's token is never shown again.
    func list(_ kind: Person.Kind) -> StaffAuthenticator.AuthenticatedHandler {
        { _, context, _ in
            let all = try await links.list(for: try PersonConsentRoutes.subject(kind, context))
            return JSONBody.response(
                JSONValue.object([
                    "data": .array(
                        all.map { link in
                            .object([
                                "id": .uuid(link.id),
                                "state": .string(link.state.rawValue),
                                "created_at": .timestamp(link.createdAt),
                                "created_by": .uuid(link.createdBy),
                                "expires_at": .timestamp(link.expiresAt),
                                "ended_at": .timestamp(link.endedAt),
                                "ended_by": .uuid(link.endedBy),
                                "end_reason": .string(link.endReason),
                            ])
                        })
                ])
            )
        }
    }
}
