import Crypto
import Foundation
import JSONText
import Postgres
import Synchronization

/// The server's Ed25519 key for consent receipts. Configured (every instance the same, or each its
/// own; all public keys are published), or made up at start-up when none is configured.
public struct SigningKey: Sendable {
    let privateKey: Curve25519.Signing.PrivateKey

    /// A key from its 32 raw bytes, base64url or base64 (what `custodian signing-key generate` prints).
    public init?(encoded: String) {
        let text = encoded.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let data = Data(base64URLEncoded: text) ?? Data(base64Encoded: text), data.count == 32,
            let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: data)
        else { return nil }
        privateKey = key
    }

    private init(privateKey: Curve25519.Signing.PrivateKey) { self.privateKey = privateKey }

    public static func generate() -> SigningKey { SigningKey(privateKey: .init()) }

    public var encoded: String { privateKey.rawRepresentation.base64URLEncoded }

    var publicKey: [UInt8] { Array(privateKey.publicKey.rawRepresentation) }

    /// The first 8 bytes of the public key's SHA-256, in hex: how receipts name their key.
    public var keyID: String { Hex.encode(SHA256.hash(data: privateKey.publicKey.rawRepresentation).prefix(8)) }
}

/// A signed statement of a person's chain head at a moment: whoever holds it can later prove
/// that the history then had at least `seq` records ending in `hash`, so removing newer records
/// (which the hash chain alone cannot show) is detected.
public struct ConsentReceipt: Sendable {
    public static let format = "custodian-consent-receipt-v1"

    public let seq: Int64
    public let hash: [UInt8]
    /// RFC 3339, exactly as signed.
    public let issuedAt: String
    public let keyID: String
    public let signature: [UInt8]

    /// The exact bytes signed: the format, seq, hash (hex) and time (RFC 3339), one per line.
    public static func message(seq: Int64, hash: [UInt8], issuedAt: String) -> Data {
        Data("\(format)\n\(seq)\n\(Hex.encode(hash))\n\(issuedAt)".utf8)
    }
}

/// Signs receipts and publishes the public keys that ever signed one.
public final class ConsentReceipts: Sendable {
    let key: SigningKey
    let database: PostgresPool
    private let published = Atomic<Bool>(false)
    /// The published keys change only when a server starts with a new key: a minute's cache
    /// keeps the public key endpoint off the database.
    private let cachedKeys = Mutex<(fetchedAt: ContinuousClock.Instant, keys: [PublishedKey])?>(nil)

    public init(key: SigningKey, database: PostgresPool) {
        self.key = key
        self.database = database
    }

    public struct PublishedKey: Sendable {
        public let keyID: String
        public let algorithm: String
        public let publicKey: [UInt8]
        public let firstUsedAt: Date
    }

    /// A receipt for the chain head, or nil for an empty chain (nothing to prove yet).
    public func receipt(for head: ConsentLedger.ChainHead) async throws -> ConsentReceipt? {
        guard let hash = head.hash, head.seq > 0 else { return nil }
        try await publishKey()
        let issuedAt = RFC3339.string(from: Date())
        let message = ConsentReceipt.message(seq: head.seq, hash: hash, issuedAt: issuedAt)
        let signature = try key.privateKey.signature(for: message)
        return ConsentReceipt(seq: head.seq, hash: hash, issuedAt: issuedAt, keyID: key.keyID, signature: Array(signature))
    }

    /// Every key that ever signed a receipt (this server's among them), oldest first.
    public func publishedKeys() async throws -> [PublishedKey] {
        if let cached = cachedKeys.withLock({ $0 }), ContinuousClock.now - cached.fetchedAt < .seconds(60) {
            return cached.keys
        }
        try await publishKey()
        let keys = try await database.query(
            "SELECT key_id, algorithm, public_key, first_used_at FROM signing_keys ORDER BY first_used_at, key_id"
        )
        .map { row in
            PublishedKey(
                keyID: try row.decode("key_id"),
                algorithm: try row.decode("algorithm"),
                publicKey: try row.decode("public_key"),
                firstUsedAt: try row.decode("first_used_at")
            )
        }
        cachedKeys.withLock { $0 = (ContinuousClock.now, keys) }
        return keys
    }

    /// Records this server's public key once per process, before its first receipt goes out.
    private func publishKey() async throws {
        guard !published.load(ordering: .relaxed) else { return }
        try await database.execute(
            "INSERT INTO signing_keys (key_id, algorithm, public_key) VALUES ($1, 'Ed25519', $2) ON CONFLICT DO NOTHING",
            [key.keyID, key.publicKey]
        )
        published.store(true, ordering: .relaxed)
    }
}
