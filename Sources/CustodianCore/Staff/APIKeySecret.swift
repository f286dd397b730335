import Crypto
import Foundation

/// A new API key: 256 random bits, shown once. Only its SHA-256 is stored.
public struct APIKeySecret: Sendable {
    /// What the caller sends as `Authorization: Bearer <key>`.
    public let key: String

    static let scheme = "cst_"

    public static func generate() -> APIKeySecret {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return APIKeySecret(key: scheme + Data(bytes).base64URLEncoded)
    }

    /// The first characters, stored and shown so people can tell their keys apart.
    public var prefix: String { String(key.prefix(Self.scheme.count + 8)) }

    public var hash: [UInt8] { Self.hash(of: key) }

    static func hash(of key: String) -> [UInt8] {
        Array(SHA256.hash(data: Data(key.utf8)))
    }
}
