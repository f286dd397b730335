import ArgumentParser
import CustodianCore
import CustodianHTTP
import Foundation
import Hummingbird
import Logging
import Metrics
import Migrations
import NIOCore
import NIOPosix
import Postgres

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the HTTP API. Refuses to start while migrations are pending, unless --migrate.",
        discussion: """
            The API connects as its own role (DATABASE_URL), which must not be a superuser nor own \
            the schema; --migrate applies migrations first as the owner (CUSTODIAN_MIGRATE_DATABASE_URL).
            """
    )

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var migration: MigrationOptions

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
            "Consent links are this, a slash and the token. Env: CUSTODIAN_CONSENT_LINK_BASE_URL; default http://HOST:PORT/p (this server's privacy centre page)."
    )
    var consentLinkBaseURL: String?

    @Option(help: "Requests per minute and client address on public endpoints. Env: CUSTODIAN_PUBLIC_RATE_LIMIT; default 60.")
    var publicRateLimit: Int?

    @Option(
        help: "Database connections of the public endpoints, apart from the staff API's. Env: CUSTODIAN_PUBLIC_DB_POOL_SIZE; default 4.")
    var publicDbPoolSize: Int?

    @Option(help: "Public requests handled at once; more get 503. Env: CUSTODIAN_PUBLIC_MAX_CONCURRENT; default 64.")
    var publicMaxConcurrent: Int?

    @Option(
        help:
            "Comma-separated proxy networks (CIDR) whose X-Forwarded-For is believed. Env: CUSTODIAN_TRUSTED_PROXIES; default none."
    )
    var trustedProxies: String?

    @Option(help: "bcrypt work factor of customer-area passwords (4-31). Env: CUSTODIAN_PASSWORD_COST; default 12.")
    var passwordCost: Int?

    @Option(
        help:
            "Password-reset and invitation links are this, ?token= and the token: the page that sets the password. Env: CUSTODIAN_PORTAL_LINK_BASE_URL; default http://HOST:PORT/portal/password."
    )
    var portalLinkBaseURL: String?

    @Option(
        help:
            "Comma-separated networks (CIDR) webhooks may reach although they are not public, e.g. an internal receiver. Env: CUSTODIAN_WEBHOOK_ALLOWED_NETWORKS; default none."
    )
    var webhookAllowedNetworks: String?

    @Option(help: "Allow plain http webhook endpoints (true/false). Env: CUSTODIAN_WEBHOOK_ALLOW_HTTP; default false: https only.")
    var webhookAllowHttp: Bool?

    @Option(
        help:
            "Comma-separated browser origins allowed to call the JSON API (CORS), exactly as browsers send them, e.g. https://app.example.com. Env: CUSTODIAN_CORS_ORIGINS; default none."
    )
    var corsOrigins: String?

    @Option(help: "Seconds a connection may go without sending a complete request. Env: CUSTODIAN_IDLE_TIMEOUT_SECONDS; default 30.")
    var idleTimeoutSeconds: Int?

    @Option(
        help:
            "Seconds a public request's body may take to arrive (read before it takes a public slot). Env: CUSTODIAN_PUBLIC_BODY_TIMEOUT_SECONDS; default 10."
    )
    var publicBodyTimeoutSeconds: Int?

    @Option(
        help:
            "Password checks (bcrypt) running or waiting at once; more get 503. Env: CUSTODIAN_PASSWORD_CHECKS_IN_FLIGHT; default twice the cores."
    )
    var passwordChecksInFlight: Int?

    @Option(
        help:
            "Registration confirmation links are this, ?token= and the token: the frontend page that posts it to /v1/portal/register/confirm. Env: CUSTODIAN_PORTAL_REGISTRATION_LINK_BASE_URL; default http://HOST:PORT/portal/confirm-registration."
    )
    var portalRegistrationLinkBaseURL: String?

    @Option(
        help:
            "Links confirming a person's new email address are this, ?token= and the token. Env: CUSTODIAN_EMAIL_CONFIRMATION_BASE_URL; default http://HOST:PORT/confirm-email (this server's page)."
    )
    var emailConfirmationBaseURL: String?

    @Option(
        help:
            "Where the server is reached from outside; consent events carry <this>/u/{token} (the unsubscribe page) and <this>/v1/public/unsubscribe/{token} (one-click). Env: CUSTODIAN_UNSUBSCRIBE_BASE_URL; default http://HOST:PORT."
    )
    var unsubscribeBaseURL: String?

    @Option(
        help:
            "Whether reads go into the audit trail (changes always do): true or false. Off only to measure its cost. Env: CUSTODIAN_AUDIT_READS; default true."
    )
    var auditReads: Bool?

    @Option(
        help:
            "The bearer token a Prometheus scraper sends to GET /metrics (at least 32 characters); without one /metrics answers 401 to everyone. Env: CUSTODIAN_METRICS_TOKEN (or CUSTODIAN_METRICS_TOKEN_FILE)."
    )
    var metricsToken: String?

    func run() async throws {
        // Tasks then run on the event loops that do the I/O, not on a pool of their own: a
        // request no longer hops between threads on its way in and out (see bench/README).
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        let logger = try database.makeLogger(label: "custodian")
        let environment = ProcessInfo.processInfo.environment
        if environment["CUSTODIAN_TRUST_X_FORWARDED_FOR"] != nil {
            throw fail(
                "CUSTODIAN_TRUST_X_FORWARDED_FOR is gone: it let any client pick its address. "
                    + "Set CUSTODIAN_TRUSTED_PROXIES to your proxies' networks instead (e.g. 10.0.0.0/8)."
            )
        }
        let listenHost = try Setting("CUSTODIAN_HOST", default: "127.0.0.1").resolve(flag: host)
        let listenPort = try Setting("CUSTODIAN_PORT", default: 8080).resolve(flag: port)
        // Without a public URL configured, links point at this server as it listens: on this
        // machine only. Listening elsewhere, people's links would lead nowhere.
        let configured = Set(try PublicLinks.settings.filter { try Setting<String>.text($0, environment: environment) != nil })
        let flagged: [String: String?] = [
            "CUSTODIAN_CONSENT_LINK_BASE_URL": consentLinkBaseURL, "CUSTODIAN_EMAIL_CONFIRMATION_BASE_URL": emailConfirmationBaseURL,
            "CUSTODIAN_UNSUBSCRIBE_BASE_URL": unsubscribeBaseURL, "CUSTODIAN_PORTAL_LINK_BASE_URL": portalLinkBaseURL,
            "CUSTODIAN_PORTAL_REGISTRATION_LINK_BASE_URL": portalRegistrationLinkBaseURL,
        ]
        let missing = PublicLinks.missing(
            listeningOn: listenHost, configured: configured.union(flagged.compactMap { $0.value == nil ? nil : $0.key }))
        if !missing.isEmpty {
            throw fail(
                "serving on \(listenHost), the links people are sent would point at this server's own address: set "
                    + missing.joined(separator: ", ") + " to the public addresses (see Configuration)")
        }
        let ownURL = "http://\(listenHost == "0.0.0.0" ? "127.0.0.1" : listenHost):\(listenPort)"
        let settings = ServerSettings(
            host: listenHost,
            port: listenPort,
            maxBodyBytes: try Setting("CUSTODIAN_MAX_BODY_BYTES", default: 1 << 20).resolve(flag: maxBodyBytes),
            consentLinkBaseURL: try Setting("CUSTODIAN_CONSENT_LINK_BASE_URL", default: ownURL + "/p")
                .resolve(flag: consentLinkBaseURL),
            publicRateLimit: try Setting("CUSTODIAN_PUBLIC_RATE_LIMIT", default: 60).resolve(flag: publicRateLimit),
            publicMaxConcurrent: try Setting("CUSTODIAN_PUBLIC_MAX_CONCURRENT", default: 64).resolve(flag: publicMaxConcurrent),
            publicBodyReadTimeout: .seconds(
                try Setting("CUSTODIAN_PUBLIC_BODY_TIMEOUT_SECONDS", default: 10).resolve(flag: publicBodyTimeoutSeconds)),
            idleTimeout: .seconds(try Setting("CUSTODIAN_IDLE_TIMEOUT_SECONDS", default: 30).resolve(flag: idleTimeoutSeconds)),
            trustedProxies: try Self.networks(
                Setting("CUSTODIAN_TRUSTED_PROXIES", default: "").resolve(flag: trustedProxies), setting: "CUSTODIAN_TRUSTED_PROXIES"),
            signingKey: try Self.signingKey(environment: environment, logger: logger),
            secrets: try Self.secrets(environment: environment),
            webhooks: .init(
                destinations: WebhookDestinationPolicy(
                    allowedNetworks: try Self.networks(
                        Setting("CUSTODIAN_WEBHOOK_ALLOWED_NETWORKS", default: "").resolve(flag: webhookAllowedNetworks),
                        setting: "CUSTODIAN_WEBHOOK_ALLOWED_NETWORKS"
                    ),
                    allowsPlainHTTP: try Setting(
                        environmentKey: "CUSTODIAN_WEBHOOK_ALLOW_HTTP", defaultValue: false, parse: { Bool($0.lowercased()) }
                    ).resolve(flag: webhookAllowHttp)
                )
            ),
            passwordCost: UInt8(clamping: try Setting("CUSTODIAN_PASSWORD_COST", default: 12).resolve(flag: passwordCost)),
            passwordChecksInFlight: try Setting("CUSTODIAN_PASSWORD_CHECKS_IN_FLIGHT", default: 2 * System.coreCount)
                .resolve(flag: passwordChecksInFlight),
            portalLinkBaseURL: try Setting("CUSTODIAN_PORTAL_LINK_BASE_URL", default: ownURL + "/portal/password")
                .resolve(flag: portalLinkBaseURL),
            portalRegistrationLinkBaseURL: try Setting(
                "CUSTODIAN_PORTAL_REGISTRATION_LINK_BASE_URL", default: ownURL + "/portal/confirm-registration"
            ).resolve(flag: portalRegistrationLinkBaseURL),
            emailConfirmationBaseURL: try Setting("CUSTODIAN_EMAIL_CONFIRMATION_BASE_URL", default: ownURL + "/confirm-email")
                .resolve(flag: emailConfirmationBaseURL),
            unsubscribeBaseURL: try Setting("CUSTODIAN_UNSUBSCRIBE_BASE_URL", default: ownURL).resolve(flag: unsubscribeBaseURL),
            corsOrigins: try Self.origins(Setting("CUSTODIAN_CORS_ORIGINS", default: "").resolve(flag: corsOrigins)),
            auditReads: try Setting(
                environmentKey: "CUSTODIAN_AUDIT_READS", defaultValue: true, parse: { Bool($0.lowercased()) }
            ).resolve(flag: auditReads),
            metrics: Self.metrics,
            metricsToken: try Self.metricsToken(flag: metricsToken)
        )
        let migrateFirst = migrate || environment["CUSTODIAN_MIGRATE_ON_START"] == "true"
        let files = try MigrationSource.load(from: database.migrationsDirectory())
        if migrateFirst {
            try await applyMigrations(files, logger: logger)
        }
        let pool = try database.makePool(logger: logger)
        let publicPool = try database.makePool(
            logger: logger, maxConnections: try Setting("CUSTODIAN_PUBLIC_DB_POOL_SIZE", default: 4).resolve(flag: publicDbPoolSize)
        )
        do {
            try await checkDatabase(Migrator(pool: pool, files: files, logger: logger), pool: pool)
        } catch {
            await pool.close()
            await publicPool.close()
            throw error
        }
        logger.info(
            "serving", metadata: ["host": "\(settings.host)", "port": "\(settings.port)", "signing_key_id": "\(settings.signingKey.keyID)"])
        try await buildApplication(settings: settings, database: pool, publicDatabase: publicPool, logger: logger).runService()
        logger.info("stopped: in-flight requests finished and database connections closed")
    }

    private func applyMigrations(_ files: [MigrationFile], logger: Logger) async throws {
        let pool = try migration.makePool(database: database, logger: logger)
        do {
            try await Migrator(pool: pool, files: files, logger: logger, apiRole: try migration.role()).migrate()
            await pool.close()
        } catch let error as MigrationError {
            await pool.close()
            throw fail("\(error)")
        } catch let error as PostgresError where error.kind == .connection {
            await pool.close()
            throw fail("cannot reach the database to migrate: \(error.message)")
        } catch let error as PostgresError {
            await pool.close()
            throw fail("migrating failed (\(error)); CUSTODIAN_MIGRATE_DATABASE_URL must name the role that owns the schema")
        }
    }

    /// The schema is current and the API's role is one the database can hold its promises against.
    private func checkDatabase(_ migrator: Migrator, pool: PostgresPool) async throws {
        do {
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
            try await APIRole.requireUnprivileged(pool)
        } catch let error as MigrationError {
            throw fail("\(error)")
        } catch let error as PostgresError where error.kind == .connection {
            throw fail("cannot reach the database: \(error.message)")
        } catch let error as PostgresError where error.sqlState == "42501" {
            throw fail("the API's role may not read the schema (\(error)): run `custodian migrate`, which grants it its privileges")
        }
    }

    /// `scheme://host[:port]` each, no path, no wildcard: what a browser sends as `Origin`.
    static func origins(_ list: String) throws -> [String] {
        try list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.map { text in
            guard let url = URL(string: text), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil,
                url.path.isEmpty || url.path == "/", url.query == nil, url.fragment == nil, url.user == nil
            else {
                throw ValidationError("CUSTODIAN_CORS_ORIGINS: \(text) is not an origin such as https://app.example.com")
            }
            return text
        }
    }

    static func networks(_ list: String, setting: String) throws -> [IPNetwork] {
        try list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.map { text in
            guard let network = IPNetwork(text) else {
                throw ValidationError("\(setting): \(text) is not an IP address or CIDR network")
            }
            return network
        }
    }

    /// The server's metrics, also what libraries report through swift-metrics.
    static let metrics: AppMetrics = {
        let metrics = AppMetrics()
        MetricsSystem.bootstrap(metrics.factory)
        return metrics
    }()

    /// CUSTODIAN_METRICS_TOKEN: long enough not to be guessed, since it is compared, not looked up.
    static func metricsToken(flag: String?) throws -> String? {
        let token = try Setting<String>("CUSTODIAN_METRICS_TOKEN", default: "").resolve(flag: flag)
        guard !token.isEmpty else { return nil }
        guard token.count >= 32, token.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
            throw ValidationError("CUSTODIAN_METRICS_TOKEN must be at least 32 visible ASCII characters (openssl rand -hex 32)")
        }
        return token
    }

    /// CUSTODIAN_SECRET_KEY (or the file CUSTODIAN_SECRET_KEY_FILE names), and the keys it replaced
    /// (CUSTODIAN_RETIRED_SECRET_KEYS, comma-separated). Required: what it keys and seals must stay
    /// readable across restarts.
    static func secrets(environment: [String: String]) throws -> ServerSecrets {
        guard let encoded = try keyText("CUSTODIAN_SECRET_KEY", environment: environment) else {
            throw ValidationError(
                "set CUSTODIAN_SECRET_KEY (or CUSTODIAN_SECRET_KEY_FILE): the key for erased people's email hashes and webhook "
                    + "secrets; `custodian secret-key generate` makes one"
            )
        }
        guard let current = ServerSecret(encoded: encoded) else {
            throw ValidationError("CUSTODIAN_SECRET_KEY must be 32 bytes, base64url (run `custodian secret-key generate`)")
        }
        let retired = try (keyText("CUSTODIAN_RETIRED_SECRET_KEYS", environment: environment) ?? "").split(separator: ",").map { text in
            guard let key = ServerSecret(encoded: String(text)) else {
                throw ValidationError("CUSTODIAN_RETIRED_SECRET_KEYS: every key must be 32 bytes, base64url")
            }
            return key
        }
        return ServerSecrets(current: current, retired: retired)
    }

    /// A key from NAME, or from the file NAME_FILE names; nil when neither is set.
    static func keyText(_ name: String, environment: [String: String]) throws -> String? {
        try Setting<String>.text(name, environment: environment)
    }

    /// CUSTODIAN_SIGNING_KEY, or the file CUSTODIAN_SIGNING_KEY_FILE names; else a key made up
    /// for this run (receipts it signs stay verifiable: its public key is published).
    static func signingKey(environment: [String: String], logger: Logger) throws -> SigningKey {
        guard let encoded = try keyText("CUSTODIAN_SIGNING_KEY", environment: environment) else {
            let key = SigningKey.generate()
            logger.warning(
                "no CUSTODIAN_SIGNING_KEY: consent receipts are signed with a key made up for this run",
                metadata: ["signing_key_id": "\(key.keyID)"]
            )
            return key
        }
        guard let key = SigningKey(encoded: encoded) else {
            throw ValidationError("the signing key must be 32 bytes, base64url (run `custodian signing-key generate`)")
        }
        return key
    }
}
