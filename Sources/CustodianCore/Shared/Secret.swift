import Crypto
import Foundation

/// Bearer secrets (API keys, consent link tokens): 256 random bits, shown once, stored only as
/// their SHA-256, compared in time that does not depend on where they differ.
public enum Secret {
    /// 32 bytes from the system's cryptographic generator, base64url without padding (43 characters).
    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return Data((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }).base64URLEncoded
    }

    /// Whether `token` has the shape `randomToken` gives: checked before any database work.
    static func couldBeToken(_ token: String) -> Bool {
        token.utf8.count == 43 && Data(base64URLEncoded: token) != nil
    }

    public static func hash(_ secret: String) -> [UInt8] {
        Array(SHA256.hash(data: Data(secret.utf8)))
    }

    public static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
        return difference == 0
    }
}
