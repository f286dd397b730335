import ArgumentParser
import CustodianCore
import Foundation
import JSONText
import Postgres

/// `custodian erasures export|replay`: the erasure journal, kept beside the backups, so that a
/// restored backup does not bring back anyone erased since it was taken.
struct ErasuresCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "erasures",
        abstract: "The erasure journal: export it beside every backup; replay it after a restore.",
        subcommands: [Export.self, Replay.self]
    )

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the journal of every erasure (ids, times, case or policy, suppression hashes; no personal value), signed.",
            discussion: """
                Signed with a key derived from CUSTODIAN_SECRET_KEY; replay checks it with that key or a retired one. Keep the \
                file with the backups, and export it again after every erasure (or daily, and before each backup).
                """
        )

        @OptionGroup var database: DatabaseOptions

        @Option(help: "Write to this file (default: standard output).")
        var output: String?

        @Option(help: "Only erasures at or after this RFC 3339 time.")
        var since: String?

        func run() async throws {
            let logger = try database.makeLogger(label: "custodian.erasures", to: .standardError)
            let sinceDate = try since.map { text in
                guard let date = RFC3339.date(from: text) else { throw ValidationError("--since must be an RFC 3339 time") }
                return date
            }
            let secrets = try Serve.secrets(environment: ProcessInfo.processInfo.environment)
            let pool = try database.makePool(logger: logger, maxConnections: 1)
            do {
                let journal = try await ErasureJournal(database: pool, secrets: secrets).export(since: sinceDate)
                let bytes = journal.serialized() + Array("\n".utf8)
                if let output {
                    try Data(bytes).write(to: URL(fileURLWithPath: output), options: .atomic)
                    let count = journal["erasures"]?.array?.count ?? 0
                    FileHandle.standardError.write(Data("Wrote \(count) erasure(s) to \(output).\n".utf8))
                } else {
                    FileHandle.standardOutput.write(Data(bytes))
                }
                await pool.close()
            } catch {
                await pool.close()
                throw error
            }
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "After restoring a backup: erase again everyone the journal says was erased and the database still holds.",
            discussion: """
                Each erasure goes through the same map-driven erasure as the API's, with tombstones naming its case or policy \
                where the restored database holds them (a restored open case is completed). Idempotent: run again, it \
                erases nothing. An erasure the restored database refuses (a legal hold in force there) is reported, and the \
                command exits 1.
                """
        )

        @OptionGroup var database: DatabaseOptions

        @Argument(help: "The journal `custodian erasures export` wrote.")
        var file: String

        func run() async throws {
            let logger = try database.makeLogger(label: "custodian.erasures", to: .standardError)
            let secrets = try Serve.secrets(environment: ProcessInfo.processInfo.environment)
            guard let data = FileManager.default.contents(atPath: file),
                let document = JSONValue(json: String(decoding: data, as: UTF8.self))
            else { throw ValidationError("\(file) is not readable JSON") }
            let pool = try database.makePool(logger: logger, maxConnections: 1)
            let outcome: ErasureJournal.Replay
            do {
                outcome = try await ErasureJournal(database: pool, secrets: secrets).replay(document)
                await pool.close()
            } catch let error as ErasureJournal.JournalError {
                await pool.close()
                throw fail(error.description)
            } catch {
                await pool.close()
                throw error
            }
            print(
                "Replayed \(outcome.replayed) erasure(s); \(outcome.present) were in the database already; \(outcome.failed.count) failed.")
            for failure in outcome.failed {
                print("failed: \(failure.entry.subject.kind.rawValue) \(failure.entry.subject.id.lowercasedString): \(failure.reason)")
            }
            if !outcome.failed.isEmpty { throw ExitCode(1) }
        }
    }
}
