import ArgumentParser
import CustodianHTTP
import Foundation
import Hummingbird
import Logging
import Migrations
import Postgres

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the HTTP API. Refuses to start while migrations are pending, unless --migrate."
    )

    @OptionGroup var database: DatabaseOptions

    @Option(help: "Address to listen on. Env: CUSTODIAN_HOST; default 127.0.0.1.")
    var host: String?

    @Option(help: "Port to listen on. Env: CUSTODIAN_PORT; default 8080.")
    var port: Int?

    @Option(help: "Largest request body accepted, in bytes. Env: CUSTODIAN_MAX_BODY_BYTES; default 1048576.")
    var maxBodyBytes: Int?

    @Flag(help: "Apply pending migrations before serving. Env: CUSTODIAN_MIGRATE_ON_START=true.")
    var migrate = false

    @Option(
        help:
            "Consent links are this, a slash and the token. Env: CUSTODIAN_CONSENT_LINK_BASE_URL; default http://127.0.0.1:8080/v1/public/consent."
    )
    var consentLinkBaseURL: String?

    @Option(help: "Requests per minute and client address on public endpoints. Env: CUSTODIAN_PUBLIC_RATE_LIMIT; default 60.")
    var publicRateLimit: Int?

    func run() async throws {
        let logger = try database.makeLogger(label: "custodian")
        let settings = ServerSettings(
            host: try Setting("CUSTODIAN_HOST", default: "127.0.0.1").resolve(flag: host),
            port: try Setting("CUSTODIAN_PORT", default: 8080).resolve(flag: port),
            maxBodyBytes: try Setting("CUSTODIAN_MAX_BODY_BYTES", default: 1 << 20).resolve(flag: maxBodyBytes),
            consentLinkBaseURL: try Setting("CUSTODIAN_CONSENT_LINK_BASE_URL", default: "http://127.0.0.1:8080/v1/public/consent")
                .resolve(flag: consentLinkBaseURL),
            publicRateLimit: try Setting("CUSTODIAN_PUBLIC_RATE_LIMIT", default: 60).resolve(flag: publicRateLimit),
            // Only behind a proxy that sets it: otherwise any client could pick its own address.
            trustForwardedFor: ProcessInfo.processInfo.environment["CUSTODIAN_TRUST_X_FORWARDED_FOR"] == "true"
        )
        let migrateFirst = migrate || ProcessInfo.processInfo.environment["CUSTODIAN_MIGRATE_ON_START"] == "true"
        let files = try MigrationSource.load(from: database.migrationsDirectory())
        let pool = try database.makePool(logger: logger)

        do {
            try await ensureSchemaIsCurrent(Migrator(pool: pool, files: files, logger: logger), migrateFirst: migrateFirst)
        } catch {
            await pool.close()
            throw error
        }
        logger.info("serving", metadata: ["host": "\(settings.host)", "port": "\(settings.port)"])
        try await buildApplication(settings: settings, database: pool, logger: logger).runService()
        logger.info("stopped: in-flight requests finished and database connections closed")
    }

    private func ensureSchemaIsCurrent(_ migrator: Migrator, migrateFirst: Bool) async throws {
        do {
            if migrateFirst {
                try await migrator.migrate()
                return
            }
            let status = try await migrator.status()
            if let changed = status.changed.first {
                throw fail("\(changed)")
            }
            if !status.pending.isEmpty {
                let names = status.pending.map(\.fileName).joined(separator: ", ")
                throw fail(
                    "\(status.pending.count) migration(s) pending (\(names)). Run `custodian migrate` first, or start with --migrate."
                )
            }
        } catch let error as MigrationError {
            throw fail("\(error)")
        } catch let error as PostgresError where error.kind == .connection {
            throw fail("cannot reach the database: \(error.message)")
        }
    }
}
