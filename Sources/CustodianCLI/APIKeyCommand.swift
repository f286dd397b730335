import ArgumentParser
import CustodianCore
import Foundation
import Postgres

struct APIKey: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api-key",
        abstract: "Manage staff API keys from the command line.",
        subcommands: [Create.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue an API key; prints only the key on stdout, so scripts can capture it.",
            discussion: """
                The key belongs to the active staff member named NAME, who is created with ROLE if \
                there is none. This is how the first admin key comes to be:
                  KEY=$(custodian api-key create --name "Ada Admin" --role admin)
                """
        )

        @OptionGroup var database: DatabaseOptions

        @Option(help: "The staff member's name.")
        var name: String

        @Option(help: "The role for a staff member created now: admin, staff, readonly or integration.")
        var role: String = "staff"

        @Option(help: "The email of a staff member created now.")
        var email: String?

        @Option(help: "A label for the key, to tell it apart from the member's other keys.")
        var keyName: String = "command line"

        func run() async throws {
            guard let role = StaffRole(rawValue: role) else {
                throw ValidationError("--role must be admin, staff, readonly or integration")
            }
            let name = name.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !name.isEmpty, name.unicodeScalars.count <= 200 else { throw ValidationError("--name must be 1 to 200 characters") }
            let logger = try database.makeLogger(label: "custodian.api-key", to: .standardError)
            let pool = try database.makePool(logger: logger)
            do {
                let secret = try await StaffDirectory(database: pool).bootstrapKey(
                    staffName: name, email: email, role: role, keyName: keyName
                )
                await pool.close()
                print(secret.key)
            } catch let error as PostgresError where error.kind == .connection {
                await pool.close()
                throw fail("cannot reach the database: \(error.message)")
            } catch let error as DomainError {
                await pool.close()
                throw fail("refused: \(error)")
            } catch {
                await pool.close()
                throw error
            }
        }
    }
}
