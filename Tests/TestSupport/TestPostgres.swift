import Foundation
import Logging
import Migrations
import Postgres

/// The PostgreSQL server the tests use, shared by every test in the process.
///
/// With `TEST_DATABASE_URL` set, that server (the role must be allowed to create databases);
/// otherwise a throwaway cluster. Either way, all migrations are applied once to a template
/// database, and each test gets its own database cloned from it and dropped afterwards, so tests
/// run in parallel, in any order, and leave nothing behind.
public actor TestPostgres {
    public static let shared = TestPostgres()

    private struct Server {
        let adminConnectionString: String
        let templateName: String
        let admin: PostgresPool
        /// A throwaway cluster is deleted whole at exit; dropping each database first would only
        /// add a checkpoint per test (DROP DATABASE waits for one).
        let dropsDatabases: Bool
    }

    private var server: Task<Server, any Error>?

    /// The repository's `migrations/` directory.
    public static let migrationsDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("migrations")

    public static let logger: Logger = {
        var logger = Logger(label: "custodian.tests")
        logger.logLevel = ProcessInfo.processInfo.environment["TEST_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .error
        return logger
    }()

    private func startedServer() async throws -> Server {
        if let server { return try await server.value }
        let task = Task { try await Self.startServer() }
        server = task
        return try await task.value
    }

    private static func startServer() async throws -> Server {
        let adminConnectionString: String
        let sharedServer: Bool
        if let url = ProcessInfo.processInfo.environment["TEST_DATABASE_URL"], !url.isEmpty {
            adminConnectionString = url
            sharedServer = true
        } else {
            sharedServer = false
            let cluster = try ThrowawayCluster.start()
            ClusterCleanup.register(cluster)
            adminConnectionString = cluster.connectionString
        }
        // Every test creates and drops a database through this pool, all at once when the suite
        // starts: they queue here, which is slow but not a failure, hence the long timeout.
        let admin = PostgresPool(
            configuration: .init(connectionString: adminConnectionString, maxConnections: 4, acquireTimeout: .seconds(600)),
            logger: logger
        )
        try await createRoles(admin)
        let templateName = "custodian_template_" + randomSuffix()
        try await admin.execute("CREATE DATABASE \(quoted(templateName)) OWNER \(TestRole.owner.name ?? "")")
        ClusterCleanup.registerDatabase(templateName, connectionString: adminConnectionString)

        // Migrations run as the owner, and grant the API role its privileges, as in production.
        let templatePool = PostgresPool(
            configuration: .init(
                connectionString: adminConnectionString, databaseName: templateName, user: TestRole.owner.name, maxConnections: 1,
                limits: .unlimited
            ),
            logger: logger
        )
        let files = try MigrationSource.load(from: migrationsDirectory)
        try await Migrator(pool: templatePool, files: files, logger: logger, apiRole: try APIRole(TestRole.apiRoleName)).migrate()
        // CREATE DATABASE ... TEMPLATE refuses while anyone is connected to the template.
        await templatePool.close()
        return Server(
            adminConnectionString: adminConnectionString, templateName: templateName, admin: admin, dropsDatabases: sharedServer
        )
    }

    /// A migrated database named `custodian` on a server of the test's own (a cluster it is going
    /// to stop and start), with the roles production has.
    public static func migratedDatabase(on adminConnectionString: String) async throws -> TestDatabase {
        let admin = PostgresPool(configuration: .init(connectionString: adminConnectionString, maxConnections: 1), logger: logger)
        do {
            try await createRoles(admin)
            try await admin.execute("CREATE DATABASE custodian OWNER \(quoted(TestRole.owner.name ?? ""))")
            await admin.close()
        } catch {
            await admin.close()
            throw error
        }
        let database = TestDatabase(name: "custodian", serverConnectionString: adminConnectionString)
        try await database.withPool(role: .owner, maxConnections: 1, limits: .unlimited) { owner in
            let files = try MigrationSource.load(from: migrationsDirectory)
            try await Migrator(pool: owner, files: files, logger: logger, apiRole: try APIRole(TestRole.apiRoleName)).migrate()
        }
        return database
    }

    /// The owner of every migrated test database and the API's role, as `custodian migrate` expects
    /// them in production: the owner may not create roles, the API role owns nothing. Roles belong to
    /// the whole server, so another test process may be creating them at the same moment.
    private static func createRoles(_ admin: PostgresPool) async throws {
        for role in [TestRole.owner, TestRole.api] {
            guard let name = role.name else { continue }
            do {
                try await admin.execute("CREATE ROLE \(quoted(name)) LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB")
            } catch let error as PostgresError where error.sqlState == "42710" || error.kind == .uniqueViolation {
                // It exists already: created by an earlier or a concurrent test process.
            }
        }
    }

    /// A new database with every migration applied, dropped when `body` ends.
    public func withDatabase<Result: Sendable>(
        _ body: @Sendable (TestDatabase) async throws -> Result
    ) async throws -> Result {
        try await withNewDatabase(template: nil, body)
    }

    /// A new, empty database (no migrations), dropped when `body` ends; for testing migrations themselves.
    public func withEmptyDatabase<Result: Sendable>(
        _ body: @Sendable (TestDatabase) async throws -> Result
    ) async throws -> Result {
        try await withNewDatabase(template: "template0", body)
    }

    private func withNewDatabase<Result: Sendable>(
        template: String?,
        _ body: @Sendable (TestDatabase) async throws -> Result
    ) async throws -> Result {
        let database = try await createDatabase(from: template)
        do {
            let result = try await body(database)
            try await dropDatabase(database)
            return result
        } catch {
            try? await dropDatabase(database)
            throw error
        }
    }

    /// A pool whose server does not exist: every connection attempt fails at once.
    public static func unreachablePool() -> PostgresPool {
        PostgresPool(
            configuration: .init(connectionString: "host=/nonexistent-socket-dir dbname=x connect_timeout=1"),
            logger: logger
        )
    }

    private func createDatabase(from template: String?) async throws -> TestDatabase {
        let server = try await startedServer()
        let name = "custodian_test_" + Self.randomSuffix()
        // Migrated databases belong to the owner role, like the template whose tables it owns.
        let owner = template == nil ? " OWNER \(Self.quoted(TestRole.owner.name ?? ""))" : ""
        try await server.admin.execute(
            "CREATE DATABASE \(Self.quoted(name)) TEMPLATE \(Self.quoted(template ?? server.templateName))\(owner)"
        )
        if template == nil {
            // A database's privileges are not copied from its template: take from PUBLIC again what
            // `custodian migrate` took (temporary tables, schemas), as on a migrated production database.
            try await server.admin.execute("REVOKE TEMPORARY, CREATE ON DATABASE \(Self.quoted(name)) FROM PUBLIC")
        }
        return TestDatabase(name: name, serverConnectionString: server.adminConnectionString)
    }

    private func dropDatabase(_ database: TestDatabase) async throws {
        let server = try await startedServer()
        guard server.dropsDatabases else { return }
        try await server.admin.execute("DROP DATABASE IF EXISTS \(Self.quoted(database.name)) WITH (FORCE)")
    }

    /// Runs SQL on the maintenance database (for example to terminate backends of a test database).
    public func adminQuery(_ sql: String, _ parameters: [any PostgresBindable] = []) async throws -> QueryResult {
        try await startedServer().admin.query(sql, parameters)
    }

    /// Polls until `condition` holds, for tests that must not race a background task; fails the
    /// test after `timeout`.
    public static func waitUntil(
        timeout: Duration = .seconds(10),
        _ condition: () async throws -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw TestSetupError("condition not met within \(timeout)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    static func randomSuffix() -> String {
        UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    }

    /// Names here are generated above from hex digits; quoting keeps them identifiers all the same.
    static func quoted(_ identifier: String) -> String {
        "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// One test's database.
public struct TestDatabase: Sendable {
    public let name: String
    /// The server's connection string; pools pick the database by name on top of it.
    public let serverConnectionString: String

    public func makePool(
        role: TestRole = .superuser,
        maxConnections: Int = 4,
        acquireTimeout: Duration = .seconds(10),
        limits: SessionLimits = .api,
        transactionRetries: Int = 3,
        logger: Logger = TestPostgres.logger
    ) -> PostgresPool {
        PostgresPool(
            configuration: .init(
                connectionString: serverConnectionString,
                databaseName: name,
                user: role.name,
                maxConnections: maxConnections,
                acquireTimeout: acquireTimeout,
                limits: limits,
                transactionRetries: transactionRetries
            ),
            logger: logger
        )
    }

    /// A pool for `body`, closed when it ends.
    public func withPool<Result: Sendable>(
        role: TestRole = .superuser,
        maxConnections: Int = 4,
        acquireTimeout: Duration = .seconds(10),
        limits: SessionLimits = .api,
        transactionRetries: Int = 3,
        logger: Logger = TestPostgres.logger,
        _ body: (PostgresPool) async throws -> Result
    ) async throws -> Result {
        let pool = makePool(
            role: role,
            maxConnections: maxConnections, acquireTimeout: acquireTimeout, limits: limits, transactionRetries: transactionRetries,
            logger: logger
        )
        do {
            let result = try await body(pool)
            await pool.close()
            return result
        } catch {
            await pool.close()
            throw error
        }
    }
}

/// Whom a test connects as.
public enum TestRole: Sendable {
    /// The server's superuser: for tests of the database layer and of what only an admin can do.
    case superuser
    /// The role migrations run as, which owns every table.
    case owner
    /// The role the API runs as in production: what it may do is exactly what `api_privileges` grants.
    case api

    public static let apiRoleName = "custodian_test_api"

    /// The role to connect as; nil keeps the connection string's.
    public var name: String? {
        switch self {
        case .superuser: nil
        case .owner: "custodian_test_owner"
        case .api: Self.apiRoleName
        }
    }
}

extension TestDatabase {
    /// Applies `sql` as the migration after the repository's last one, as the owner, and grants
    /// the API role what `api_privileges` then lists: a later migration, as a test imagines it.
    public func applyMigration(version: Int64, name: String, sql: String) async throws {
        try await withPool(role: .owner, maxConnections: 1, limits: .unlimited) { owner in
            let files =
                try MigrationSource.load(from: TestPostgres.migrationsDirectory) + [MigrationFile(version: version, name: name, sql: sql)]
            try await Migrator(pool: owner, files: files, logger: TestPostgres.logger, apiRole: try APIRole(TestRole.apiRoleName)).migrate()
        }
    }
}
