import CustodianCore
import Foundation
import Hummingbird
import JSONText

/// `POST /v1/public/link-requests`: a person who lost their link (or never had one) asks for it
/// by email. The answer is 202 whether or not anyone has the address (nobody learns who is in the
/// CRM); a person who has it gets a fresh link by mail (`person.link_requested`).
struct LinkRequestRoutes {
    let links: ConsentLinks
    let gate: PublicGate
    let linkBaseURL: String
    let secrets: ServerSecrets

    func register(on routes: inout RouteTable) {
        routes.on(.post, "/v1/public/link-requests", use: gate.guarding(scope: "link-requests", tokenLooksValid: nil, requestLink))
    }

    @Sendable func requestLink(_ request: Request, _: AppRequestContext) async throws -> Response {
        var fields = try await RequestFields.read(request)
        let email = fields.email("email", required: true)
        try fields.finish()
        guard case .value(let address) = email else { throw DomainError.invalid([]) }
        try await links.request(byEmail: address, linkBaseURL: linkBaseURL, secrets: secrets)
        var response = JSONBody.response(
            .object(["detail": .string("if we hold this address, a link is on its way to it")]), status: .accepted)
        response.headers[.cacheControl] = "no-store"
        return response
    }
}
