import Crypto
import Foundation
import JSONText

/// The server's own secret key (CUSTODIAN_SECRET_KEY). It is never used as it is: each use has a
/// key of its own, derived from it with HKDF-SHA256 (`Use`), so that a value keyed for one purpose
/// (a CSRF token a browser holds) says nothing about another (an erased person's email hash). Kept
/// outside the database, so that the database alone can neither test an email against the
/// suppression list nor read a webhook secret.
///
/// Until this derivation, the key itself keyed the suppression hashes and sealed webhook secrets:
/// such values stay readable (`legacyMac`, and `open` falls back to the key itself).
public struct ServerSecret: Sendable {
    /// What a derived key is for; the raw value is HKDF's `info`, so it never changes.
    public enum Use: String, Sendable, CaseIterable {
        case suppressionHash = "custodian/v1/suppression-hash"
        case sealing = "custodian/v1/sealing"
        case formProtection = "custodian/v1/form-protection"
        case confirmationToken = "custodian/v1/confirmation-token"
        case unsubscribe = "custodian/v1/unsubscribe"
        case erasureJournal = "custodian/v1/erasure-journal"
        /// Counters per client address (rate limits, failed logins) store this keyed hash: an
        /// IPv4 address's plain hash is undone by hashing all four billion.
        case clientAddress = "custodian/v1/client-address"
    }

    private let key: SymmetricKey
    private let derived: [Use: SymmetricKey]
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
        var derived: [Use: SymmetricKey] = [:]
        for use in Use.allCases {
            derived[use] = HKDF<SHA256>.deriveKey(inputKeyMaterial: key, info: Data(use.rawValue.utf8), outputByteCount: 32)
        }
        self.derived = derived
    }

    public static func generate() -> ServerSecret { ServerSecret(key: SymmetricKey(size: .bits256)) }

    public var encoded: String { key.withUnsafeBytes { Data($0).base64URLEncoded } }

    private func key(for use: Use) -> SymmetricKey {
        // Every use is derived in init.
        derived[use] ?? key
    }

    public func mac(_ text: String, for use: Use) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: key(for: use)))
    }

    /// What a counter per client address stores for the address: 128 bits of its keyed hash, in hex.
    public func addressHash(_ address: String) -> String {
        Hex.encode(mac(address, for: .clientAddress).prefix(16))
    }

    /// The HMAC under the key itself, as suppression hashes were made before keys were derived.
    func legacyMac(_ text: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: key))
    }

    func seal(_ plaintext: [UInt8], for use: Use = .sealing) throws -> [UInt8] {
        guard let combined = try AES.GCM.seal(plaintext, using: key(for: use)).combined else { throw ServerSecretError.cannotSeal }
        return Array(combined)
    }

    /// Opens what `seal` sealed, or what the key itself sealed before keys were derived (GCM's tag
    /// tells which: a box opens under one key only).
    func open(_ sealed: [UInt8]) throws -> [UInt8] {
        let box = try AES.GCM.SealedBox(combined: sealed)
        do {
            return Array(try AES.GCM.open(box, using: key(for: .sealing)))
        } catch {
            return Array(try AES.GCM.open(box, using: key))
        }
    }

    /// Opens what `seal(_:for:)` sealed for `use`; nil when it was not (or was changed since).
    func open(_ sealed: [UInt8], for use: Use) -> [UInt8]? {
        guard let box = try? AES.GCM.SealedBox(combined: sealed) else { return nil }
        return (try? AES.GCM.open(box, using: key(for: use))).map(Array.init)
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

    public var all: [ServerSecret] { [current] + retired }

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
