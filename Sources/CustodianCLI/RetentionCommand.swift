import ArgumentParser
import CustodianCore
import Foundation
import Postgres

/// `custodian retention run`: runs the active retention policies now (housekeeping runs each
/// hourly), or one policy whether active or not, as the API's role, through the same erasure.
struct Retention: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retention",
        abstract: "Retention policies: erase the people they match now.",
        subcommands: [Run.self]
    )

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the active retention policies (or --policy ID) now; --dry-run lists whom they would erase.",
            discussion: """
                Prints one line per person (policy, subject_type, subject_id, erased|would_erase) and a summary per \
                policy. People under a legal hold, with an open request case or a restriction in force are left; \
                a person whose erasure fails is tried again on the next run. Needs CUSTODIAN_SECRET_KEY, which keys \
                the hashes of erased emails.
                """
        )

        @OptionGroup var database: DatabaseOptions

        @Flag(help: "List whom the policies would erase, erasing nobody.")
        var dryRun = false

        @Option(help: "Run only this policy (even when inactive).")
        var policy: String?

        @Option(help: "Erase at most this many people per policy.")
        var limit = 1000

        func run() async throws {
            let logger = try database.makeLogger(label: "custodian.retention")
            let onlyPolicy = try policy.map { text in
                guard let id = UUID(uuidString: text) else { throw ValidationError("--policy must be a policy's id") }
                return id
            }
            guard limit > 0 else { throw ValidationError("--limit must be at least 1") }
            let secrets = try Serve.secrets(environment: ProcessInfo.processInfo.environment)
            let pool = try database.makePool(logger: logger, maxConnections: 2)
            do {
                let runs = RetentionRuns(database: pool, secrets: secrets, logger: logger)
                var ids = onlyPolicy.map { [$0] } ?? []
                if onlyPolicy == nil { ids = try await RetentionPolicies(database: pool).inForce().map(\.id) }
                for id in ids {
                    let outcome = try await runs.run(id, dryRun: dryRun, limit: limit)
                    for subject in outcome.erased {
                        print(
                            "\(id.lowercasedString) \(subject.kind.rawValue) \(subject.id.lowercasedString) \(dryRun ? "would_erase" : "erased")"
                        )
                    }
                    print(
                        "policy \(id.lowercasedString): \(outcome.erased.count) \(dryRun ? "to erase" : "erased"), "
                            + "\(outcome.exempt) exempt, \(outcome.failed) failed")
                }
                if ids.isEmpty { print("No retention policy is active.") }
                await pool.close()
            } catch {
                await pool.close()
                throw error
            }
        }
    }
}
