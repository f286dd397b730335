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
