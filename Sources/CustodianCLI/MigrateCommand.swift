import ArgumentParser
import Foundation
import Migrations
import Postgres

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Apply pending migrations in order (each in its own transaction) and grant the API role its privileges, or list them with --status.",
        discussion: """
            Migrations run as the role that owns the schema (CUSTODIAN_MIGRATE_DATABASE_URL, else \
            DATABASE_URL); the API role (CUSTODIAN_API_ROLE) is granted exactly what the schema's \
            api_privileges table lists, and is created when missing if the owner may create roles.
            """
    )

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var migration: MigrationOptions

    @Flag(help: "List applied and pending migrations; change nothing.")
    var status = false

    func run() async throws {
        let logger = try database.makeLogger(label: "custodian.migrate")
        let files = try MigrationSource.load(from: database.migrationsDirectory())
        let role = try migration.role()
        let pool = try migration.makePool(database: database, logger: logger)
        do {
            try await perform(Migrator(pool: pool, files: files, logger: logger, apiRole: role))
            await pool.close()
        } catch {
            await pool.close()
            throw error
        }
    }

    private func perform(_ migrator: Migrator) async throws {
        do {
            if status {
                try await printStatus(migrator)
                return
            }
            let applied = try await migrator.migrate()
            print(applied.isEmpty ? "Nothing to apply: the schema is current." : "Applied \(applied.count) migration(s).")
        } catch let error as MigrationError {
            throw fail("\(error)")
        } catch let error as PostgresError where error.kind == .connection {
            throw fail("cannot reach the database: \(error.message)")
        }
    }

    private func printStatus(_ migrator: Migrator) async throws {
        let status = try await migrator.status()
        let formatter = ISO8601DateFormatter()
        for entry in status.entries {
            let state: String
            if let applied = entry.applied {
                state = entry.isChanged ? "CHANGED since applied" : "applied \(formatter.string(from: applied.appliedAt))"
            } else {
                state = "pending"
            }
            print("\(entry.file.fileName)  \(state)")
        }
        for unknown in status.unknownApplied {
            print(String(format: "%04lld_%@.sql", unknown.version, unknown.name) + "  applied, but no such file here (a newer release?)")
        }
        print("\(status.pending.count) pending, \(status.changed.count) changed.")
        if !status.changed.isEmpty { throw ExitCode.failure }
    }
}
