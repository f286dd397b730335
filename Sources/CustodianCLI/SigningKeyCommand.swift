import ArgumentParser
import CustodianCore
import Foundation

struct SigningKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "signing-key",
        abstract: "Manage the Ed25519 key that signs consent receipts.",
        subcommands: [Generate.self]
    )

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a new private key (base64url) for CUSTODIAN_SIGNING_KEY; its key id goes to stderr.",
            discussion: """
                Keep it secret, like a password. Rotating it is safe: every public key that ever \
                signed a receipt stays published at GET /v1/public/keys.
                """
        )

        func run() throws {
            let key = SigningKey.generate()
            print(key.encoded)
            FileHandle.standardError.write(Data("key id \(key.keyID)\n".utf8))
        }
    }
}

struct SecretKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secret-key",
        abstract: "Manage the server's secret key (CUSTODIAN_SECRET_KEY).",
        subcommands: [Generate.self]
    )

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a new secret key (base64url) for CUSTODIAN_SECRET_KEY; its key id goes to stderr.",
            discussion: """
                It keys the hashes of erased people's emails and seals webhook signing secrets. To \
                rotate: set the new key as CUSTODIAN_SECRET_KEY and move the old one to \
                CUSTODIAN_RETIRED_SECRET_KEYS; keep it there as long as suppression entries or \
                webhooks made with it exist.
                """
        )

        func run() throws {
            let key = ServerSecret.generate()
            print(key.encoded)
            FileHandle.standardError.write(Data("key id \(key.keyID)\n".utf8))
        }
    }
}
