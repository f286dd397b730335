import Crypto
import CustodianCore
import CustodianHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

/// One server key, a key of its own for each use (HKDF-SHA256), and what the key itself keyed or
/// sealed before that stays readable.
@Suite("Each use of the server's key has a key of its own")
struct KeyDerivationTests {
    static let secret = ServerSecret.generate()
    static let root = SymmetricKey(data: Data(base64URLEncoded: secret.encoded) ?? Data())

    static func derived(_ use: ServerSecret.Use) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: root, info: Data(use.rawValue.utf8), outputByteCount: 32)
    }

    static func mac(_ text: String, _ key: SymmetricKey) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: key))
    }

    @Test func csrfTokensAreKeyedWithTheirOwnKeyNotTheServerKey() throws {
        let protection = FormProtection(secrets: ServerSecrets(current: Self.secret))
        let nonce = FormProtection.newNonce()
        let token = try #require(Data(base64URLEncoded: protection.token(nonce: nonce, capability: "page")))
        #expect(Array(token) == Self.mac("csrf|page|\(nonce)", Self.derived(.formProtection)))
        #expect(Array(token) != Self.mac("csrf|page|\(nonce)", Self.root))
        // The uses' keys differ from each other and from the key.
        let keys = ServerSecret.Use.allCases.map { Self.derived($0).withUnsafeBytes { Data($0) } }
        #expect(Set(keys + [Self.root.withUnsafeBytes { Data($0) }]).count == ServerSecret.Use.allCases.count + 1)
    }

    @Test func webhookSecretsAreSealedWithTheSealingKeyAndOldOnesStillOpen() async throws {
        let settings = ServerSettings(
            secrets: ServerSecrets(current: Self.secret), webhooks: .init(destinations: WebhookTests.loopbackAllowed))
        let receiver = WebhookReceiver()
        try await StaffFixture.withApp(settings: settings) { fixture, client in
            try await receiver.run {
                let (endpoint, secret) = try await WebhookTests().register(
                    client, key: fixture.adminKey, url: receiver.url, events: ["request.received"])
                let sealed: [UInt8] = try await fixture.pool.query(
                    "SELECT sealed_secret FROM webhook_endpoints WHERE id = $1::uuid", [endpoint]
                ).single().decode("sealed_secret")
                let box = try AES.GCM.SealedBox(combined: sealed)
                #expect(String(decoding: try AES.GCM.open(box, using: Self.derived(.sealing)), as: UTF8.self) == secret)
                #expect(throws: (any Error).self) { try AES.GCM.open(box, using: Self.root) }

                // A secret sealed with the key itself, as before keys were derived, still opens.
                let legacy = try #require(try AES.GCM.seal(Array(secret.utf8), using: Self.root).combined)
                try await fixture.database.withPool { superuser in
                    try await superuser.execute(
                        "UPDATE webhook_endpoints SET sealed_secret = $2 WHERE id = $1::uuid", [endpoint, Array(legacy)])
                }
                _ = try await WebhookTests().openCase(client, key: fixture.adminKey)
                let sender = WebhookDispatcher(
                    deliveries: WebhookDeliveries(database: fixture.pool, secrets: settings.secrets),
                    configuration: .init(destinations: WebhookTests.loopbackAllowed), logger: TestPostgres.logger)
                #expect(try await sender.runOnce() == 1)
                let message = try #require(receiver.received.first)
                let id = try #require(message.headers["webhook-id"])
                let timestamp = try #require(message.headers["webhook-timestamp"].flatMap { Int($0) })
                #expect(
                    message.headers["webhook-signature"]
                        == WebhookSignature.sign(id: id, timestamp: timestamp, body: message.body, secret: secret))
            }
        }
    }

    @Test func suppressionHashesMadeWithTheServerKeyItselfStillMatch() async throws {
        let settings = ServerSettings(secrets: ServerSecrets(current: Self.secret))
        try await StaffFixture.withApp(settings: settings) { fixture, client in
            let legacy = Self.mac("email:erased@example.org", Self.root)
            try await fixture.database.withPool { superuser in
                try await superuser.execute(
                    "INSERT INTO erasure_suppressions (email_hash, key_id) VALUES ($1, $2)", [legacy, Self.secret.keyID])
            }
            let refused = try await client.send(
                .post, "/v1/leads", headers: headers(key: fixture.adminKey, json: true),
                body: #"{"name": "Back Again", "email": "Erased@Example.org"}"#)
            #expect(refused.status == .conflict)
            #expect(try refused.json()["type"] as? String == "urn:custodian:problem:erased-person")
        }
    }
}
