import CustodianCore
import Foundation
import Hummingbird
import JSONText

/// `GET /v1/public/keys`: every public key that ever signed a consent receipt, so a person or
/// auditor holding a receipt can check its signature.
struct PublicKeyRoutes {
    let receipts: ConsentReceipts
    let gate: PublicGate

    func register(on routes: inout RouteTable) {
        routes.on(.get, "/v1/public/keys", use: gate.guarding(scope: "public-keys", tokenLooksValid: nil, keys))
    }

    @Sendable func keys(_: Request, _: AppRequestContext) async throws -> Response {
        let published = try await receipts.publishedKeys()
        var response = JSONBody.response(
            JSONValue.object([
                "keys": .array(
                    published.map { key in
                        .object([
                            "key_id": .string(key.keyID),
                            "algorithm": .string(key.algorithm),
                            "public_key": .string(Data(key.publicKey).base64URLEncoded),
                            "first_used_at": .timestamp(key.firstUsedAt),
                        ])
                    })
            ])
        )
        response.headers[.cacheControl] = "public, max-age=300"
        return response
    }
}
