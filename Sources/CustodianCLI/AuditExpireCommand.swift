import ArgumentParser
import Foundation
import Postgres

/// Drops the audit trail's months older than the retention. Runs as the schema's owner: the
/// API's role may add entries and make the coming months, but removes nothing of the trail, so
/// that a stolen API password cannot shorten it.
struct AuditExpire: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit-expire",
        abstract: "Drop the audit trail's months that ended more than the retention ago (run daily, as the owner).",
        discussion: """
            Connects as the owner (CUSTODIAN_MIGRATE_DATABASE_URL, else DATABASE_URL). The retention \
            is --keep-days, else CUSTODIAN_AUDIT_RETENTION_DAYS, else 730; at least 30.
            """
    )

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var migration: MigrationOptions

    @Option(help: "Keep entries this many days (at least 30). Env: CUSTODIAN_AUDIT_RETENTION_DAYS; default 730.")
    var keepDays: Int?

    func run() async throws {
        let logger = try database.makeLogger(label: "custodian.audit")
        let days = try Setting("CUSTODIAN_AUDIT_RETENTION_DAYS", default: 730).resolve(flag: keepDays)
        guard days >= 30 else { throw fail("the audit trail is kept at least 30 days") }
        let pool = try migration.makePool(database: database, logger: logger)
        do {
            let row = try await pool.query(
                "SELECT audit_prepare_partitions(2) AS made, audit_expire($1) AS dropped", [days]
            ).single()
            let dropped: Int = try row.decode("dropped")
            print("Dropped \(dropped) month(s) of the audit trail older than \(days) days.")
            await pool.close()
        } catch let error as PostgresError where error.sqlState == "42501" {
            await pool.close()
            throw fail("connect as the schema's owner (CUSTODIAN_MIGRATE_DATABASE_URL): the API's role may not shorten the trail")
        } catch {
            await pool.close()
            throw error
        }
    }
}
