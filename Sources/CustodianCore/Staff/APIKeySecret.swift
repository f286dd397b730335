/// A new API key: 256 random bits, shown once. Only its SHA-256 is stored.
public struct APIKeySecret: Sendable {
    /// What the caller sends as `Authorization: Bearer <key>`.
    public let key: String

    public static let scheme = "cst_"

    public static func generate() -> APIKeySecret {
        APIKeySecret(key: scheme + Secret.randomToken())
    }

    /// The first characters, stored and shown so people can tell their keys apart.
    public var prefix: String { String(key.prefix(Self.scheme.count + 8)) }

    public var hash: [UInt8] { Secret.hash(key) }
}
