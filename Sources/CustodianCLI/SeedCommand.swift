import ArgumentParser
import CustodianCore
import Foundation
import Postgres

struct Seed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fill the database with sample data for frontend work and benchmarks."
    )

    @OptionGroup var database: DatabaseOptions

    @Flag(help: "Required: this writes made-up people into the database it is pointed at.")
    var demo = false

    @Option(help: "How many contacts (three per customer).")
    var contacts: Int = 300

    @Option(help: "How many leads.")
    var leads: Int = 100

    func run() async throws {
        guard demo else { throw ValidationError("pass --demo to confirm that sample data should be written") }
        guard (1...5_000_000).contains(contacts), (0...5_000_000).contains(leads) else {
            throw ValidationError("--contacts must be 1 to 5,000,000 and --leads 0 to 5,000,000")
        }
        let logger = try database.makeLogger(label: "custodian.seed", to: .standardError)
        let pool = try database.makePool(logger: logger)
        do {
            let started = ContinuousClock.now
            let summary = try await DemoData(database: pool).seed(contacts: contacts, leads: leads)
            await pool.close()
            print(
                "Seeded \(summary.customers) customers, \(summary.contacts) contacts, \(summary.leads) leads and \(summary.notes) notes in \(ContinuousClock.now - started)."
            )
        } catch let error as PostgresError where error.kind == .connection {
            await pool.close()
            throw fail("cannot reach the database: \(error.message)")
        } catch {
            await pool.close()
            throw error
        }
    }
}
