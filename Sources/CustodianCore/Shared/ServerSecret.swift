import Crypto
import Foundation

/// The server's own secret key (CUSTODIAN_SECRET_KEY): keys the hashes of erased people's emails
/// and seals webhook signing secrets at rest. Kept outside the database, so that the database
/// alone can neither test an email against the suppression list nor read a webhook secret.
public struct ServerSecret: Sendable {
    let key: SymmetricKey
    /// The first 8 bytes of the key's SHA-256, in hex: stored next to what the key sealed or keyed.
    public let keyID: String

    /// A key from its 32 raw bytes, base64url or base64 (what `custodian secret-key generate` prints).
    public init?(encoded: String) {
        let text = encoded.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let data = Data(base64URLEncoded: text) ?? Data(base64Encoded: text), data.count == 32 else { return nil }
        self.init(key: SymmetricKey(data: data))
    }

    private init(key: SymmetricKey) {
        self.key = key
        self.keyID = key.withUnsafeBytes { Hex.encode(SHA256.hash(data: Data($0)).prefix(8)) }
    }

    public static func generate() -> ServerSecret { ServerSecret(key: SymmetricKey(size: .bits256)) }

    public var encoded: String { key.withUnsafeBytes { Data($0).base64URLEncoded } }

    func mac(_ text: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: key))
    }

    func seal(_ plaintext: [UInt8]) throws -> [UInt8] {
        guard let combined = try AES.GCM.seal(plaintext, using: key).combined else { throw ServerSecretError.cannotSeal }
        return Array(combined)
    }

    func open(_ sealed: [UInt8]) throws -> [UInt8] {
        Array(try AES.GCM.open(AES.GCM.SealedBox(combined: sealed), using: key))
    }
}

/// The current secret and the ones it replaced: new values are keyed and sealed with the current
/// one, and lookups try every one, so rotating the key loses no suppression entry or webhook secret.
public struct ServerSecrets: Sendable {
    public let current: ServerSecret
    public let retired: [ServerSecret]

    public init(current: ServerSecret, retired: [ServerSecret] = []) {
        self.current = current
        self.retired = retired
    }

    var all: [ServerSecret] { [current] + retired }

    func secret(withID keyID: String) throws -> ServerSecret {
        guard let secret = all.first(where: { $0.keyID == keyID }) else { throw ServerSecretError.unknownKey(keyID) }
        return secret
    }
}

public enum ServerSecretError: Error, CustomStringConvertible {
    case cannotSeal
    case unknownKey(String)

    public var description: String {
        switch self {
        case .cannotSeal: "the value could not be sealed"
        case .unknownKey(let id): "the secret key \(id) is neither CUSTODIAN_SECRET_KEY nor one of CUSTODIAN_RETIRED_SECRET_KEYS"
        }
    }
}
