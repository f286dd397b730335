import CustodianCore
import Hummingbird

/// `POST /v1/public/email-confirmations`: a frontend's confirmation page posts the token mailed to
/// a person's new address; the address then counts (`EmailChanges`).
struct EmailConfirmationRoutes {
    let emailChanges: EmailChanges
    let gate: PublicGate

    func register(on routes: inout RouteTable) {
        routes.on(.post, "/v1/public/email-confirmations", use: gate.guarding(scope: "email-confirmation", tokenLooksValid: nil, confirm))
    }

    @Sendable func confirm(_ request: Request, _: AppRequestContext) async throws -> Response {
        var fields = try await RequestFields.read(request)
        let token = fields.string("token", required: true, maxLength: ConfirmationToken.maxLength).value
        try fields.finish()
        guard let token, try await emailChanges.confirm(token: token) != nil else {
            throw DomainError.invalid([
                FieldError(field: "token", message: "is not a valid link: unknown, used, expired, or the person's data changed since")
            ])
        }
        return Response(status: .noContent)
    }
}
