import CustodianCore
import Hummingbird

/// `/v1/portal/me/…`: what the personal link gives a person, for the logged-in contact. Every
/// route acts on the session's contact; none takes an id.
struct PortalMeRoutes {
    let auth: PortalAuthenticator
    let own: OwnData
    let accounts: PortalAccounts

    func register(on routes: inout RouteTable) {
        routes.on(.get, "/v1/portal/me", use: auth.requiring { request, _, session in try await own.view(request, person: session.person) })
        routes.on(
            .patch, "/v1/portal/me",
            use: auth.requiring { request, _, session in
                try await own.correct(request, person: session.person) { try await accounts.isCurrentPassword($0, of: session) }
            })
        routes.on(
            .get, "/v1/portal/me/consents",
            use: auth.requiring { request, _, session in try await own.consents(request, person: session.person) })
        routes.on(
            .post, "/v1/portal/me/consents",
            use: auth.requiring { request, context, session in
                try await own.decide(request, context: context, person: session.person, way: .customerArea)
            })
        routes.on(
            .get, "/v1/portal/me/requests",
            use: auth.requiring { request, _, session in try await own.requests(request, person: session.person) })
        routes.on(
            .post, "/v1/portal/me/requests",
            use: auth.requiring { request, _, session in try await own.file(request, person: session.person, way: .customerArea) })
        routes.on(.get, "/v1/portal/me/export", use: auth.requiring { _, _, session in try await own.export(person: session.person) })
        // The one thing a session with policies pending may do.
        routes.on(
            .post, "/v1/portal/me/policy-acceptances",
            use: auth.requiring(whilePending: true) { request, context, session in
                try await own.accept(request, context: context, person: session.person, way: .customerArea)
            })
    }
}
