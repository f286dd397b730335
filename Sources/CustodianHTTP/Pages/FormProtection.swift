import Crypto
import CustodianCore
import Foundation

/// CSRF tokens for the server-rendered pages, with no state on the server: the browser holds a
/// random nonce in a SameSite cookie, and each form carries an HMAC of that nonce and the page's
/// capability (link token or form key) under the server's secret key. A post from another site
/// has neither the cookie nor a token that matches it.
public struct FormProtection: Sendable {
    let secrets: ServerSecrets

    public init(secrets: ServerSecrets) { self.secrets = secrets }

    public static func newNonce() -> String {
        var generator = SystemRandomNumberGenerator()
        return Data((0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) }).base64URLEncoded
    }

    public func token(nonce: String, capability: String) -> String {
        Data(secrets.current.mac("csrf|\(capability)|\(nonce)", for: .formProtection)).base64URLEncoded
    }

    /// Whether `token` was issued for this nonce and capability (under any of the keys).
    public func verify(_ token: String, nonce: String, capability: String) -> Bool {
        guard nonce.utf8.count == 22, let given = Data(base64URLEncoded: token) else { return false }
        return secrets.all.contains { secret in
            Secret.constantTimeEqual(Array(given), secret.mac("csrf|\(capability)|\(nonce)", for: .formProtection))
        }
    }
}
