import ArgumentParser
import CustodianHTTP
import Foundation
import Logging
import Migrations
import Postgres

/// Reads one setting: the flag when given, else the environment variable, else the default.
struct Setting<Value> {
    let environmentKey: String
    let defaultValue: Value?
    let parse: (String) -> Value?

    /// The flag, else the variable, else the file `<variable>_FILE` names (a secret mounted by
    /// Docker or Kubernetes; its trailing newline is not part of the value), else the default.
    func resolve(flag: Value?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Value {
        if let flag { return flag }
        if let raw = try Self.text(environmentKey, environment: environment) {
            guard let value = parse(raw) else {
                throw ValidationError("\(environmentKey)=\(raw) is not a valid value")
            }
            return value
        }
        guard let defaultValue else {
            let flag = "--" + environmentKey.lowercased().replacingOccurrences(of: "_", with: "-")
            throw ValidationError("set \(environmentKey) or pass \(flag)")
        }
        return defaultValue
    }

    /// NAME's value, or the contents of the file NAME_FILE names; nil when neither is set.
    static func text(_ name: String, environment: [String: String]) throws -> String? {
        if let value = environment[name], !value.isEmpty { return value }
        guard let path = environment[name + "_FILE"], !path.isEmpty else { return nil }
        guard let contents = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ValidationError("\(name)_FILE: cannot read \(path)")
        }
        let value = contents.trimmingCharacters(in: .newlines)
        return value.isEmpty ? nil : value
    }
}

extension Setting where Value == String {
    init(_ environmentKey: String, default defaultValue: String?) {
        self.init(environmentKey: environmentKey, defaultValue: defaultValue, parse: { $0 })
    }
}

extension Setting where Value == Int {
    /// A positive whole number; with `allowZero`, 0 too (for limits that 0 switches off).
    init(_ environmentKey: String, default defaultValue: Int, allowZero: Bool = false) {
        self.init(
            environmentKey: environmentKey, defaultValue: defaultValue,
            parse: { Int($0).flatMap { $0 > 0 || (allowZero && $0 == 0) ? $0 : nil } }
        )
    }
}

/// Options every command that talks to the database shares.
struct DatabaseOptions: ParsableArguments {
    @Option(help: "libpq connection string or URL; the API's own role. Env: DATABASE_URL.")
    var databaseURL: String?

    @Option(help: "Maximum database connections (and database threads). Env: CUSTODIAN_DB_POOL_SIZE; default 8.")
    var dbPoolSize: Int?

    @Option(help: "Seconds a request waits for a free database connection. Env: CUSTODIAN_DB_ACQUIRE_TIMEOUT; default 5.")
    var dbAcquireTimeout: Int?

    @Option(help: "Milliseconds a statement may run (0: no limit). Env: CUSTODIAN_DB_STATEMENT_TIMEOUT_MS; default 10000.")
    var dbStatementTimeoutMs: Int?

    @Option(help: "Milliseconds a statement may wait for a lock (0: no limit). Env: CUSTODIAN_DB_LOCK_TIMEOUT_MS; default 3000.")
    var dbLockTimeoutMs: Int?

    @Option(
        help:
            "Milliseconds a transaction may sit idle before the server ends the session (0: no limit). Env: CUSTODIAN_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS; default 60000."
    )
    var dbIdleInTransactionTimeoutMs: Int?

    @Option(help: "Directory of the NNNN_name.sql migration files. Env: CUSTODIAN_MIGRATIONS_DIR; default ./migrations.")
    var migrationsDir: String?

    @Option(help: "trace, debug, info, notice, warning, error or critical. Env: CUSTODIAN_LOG_LEVEL; default info.")
    var logLevel: String?

    @Option(help: "text (one line per event, key=value) or json (one object per line). Env: CUSTODIAN_LOG_FORMAT; default text.")
    var logFormat: String?

    func limits() throws -> SessionLimits {
        func limit(_ key: String, _ flag: Int?, default milliseconds: Int) throws -> Duration? {
            let value = try Setting(key, default: milliseconds, allowZero: true).resolve(flag: flag)
            return value == 0 ? nil : .milliseconds(value)
        }
        return SessionLimits(
            statementTimeout: try limit("CUSTODIAN_DB_STATEMENT_TIMEOUT_MS", dbStatementTimeoutMs, default: 10_000),
            lockTimeout: try limit("CUSTODIAN_DB_LOCK_TIMEOUT_MS", dbLockTimeoutMs, default: 3_000),
            idleInTransactionTimeout: try limit(
                "CUSTODIAN_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS", dbIdleInTransactionTimeoutMs, default: 60_000)
        )
    }

    /// The API's pool, under the configured time limits.
    func makePool(logger: Logger, maxConnections: Int? = nil) throws -> PostgresPool {
        let configuration = PostgresPool.Configuration(
            connectionString: try Setting("DATABASE_URL", default: nil).resolve(flag: databaseURL),
            maxConnections: try maxConnections ?? Setting("CUSTODIAN_DB_POOL_SIZE", default: 8).resolve(flag: dbPoolSize),
            acquireTimeout: .seconds(try Setting("CUSTODIAN_DB_ACQUIRE_TIMEOUT", default: 5).resolve(flag: dbAcquireTimeout)),
            limits: try limits()
        )
        return PostgresPool(configuration: configuration, logger: logger)
    }

    func migrationsDirectory() throws -> URL {
        URL(fileURLWithPath: try Setting("CUSTODIAN_MIGRATIONS_DIR", default: "migrations").resolve(flag: migrationsDir))
    }

    typealias LogStream = LineLogHandler.Stream

    /// Bootstraps swift-log once per process and returns the root logger. Commands whose stdout
    /// is their answer log to stderr.
    func makeLogger(label: String, to stream: LogStream = .standardOutput) throws -> Logger {
        let levelName = try Setting("CUSTODIAN_LOG_LEVEL", default: "info").resolve(flag: logLevel)
        guard let level = Logger.Level(rawValue: levelName.lowercased()) else {
            throw ValidationError("unknown log level \(levelName)")
        }
        let formatName = try Setting("CUSTODIAN_LOG_FORMAT", default: "text").resolve(flag: logFormat)
        guard let format = LogLine.Format(rawValue: formatName.lowercased()) else {
            throw ValidationError("unknown log format \(formatName): text or json")
        }
        LoggingSystem.bootstrap { label in
            LineLogHandler(label: label, stream: stream, format: format, logLevel: level)
        }
        return Logger(label: label)
    }
}

/// Where migrations run and whom they grant the API's privileges.
struct MigrationOptions: ParsableArguments {
    @Option(
        help:
            "libpq connection string or URL of the role that owns the schema and runs migrations. Env: CUSTODIAN_MIGRATE_DATABASE_URL; default DATABASE_URL."
    )
    var migrateDatabaseURL: String?

    @Option(
        help: "The PostgreSQL role the API connects as; migrate grants it its privileges. Env: CUSTODIAN_API_ROLE; default custodian_api.")
    var apiRole: String?

    /// A pool of one connection as the owner, with no time limits: migrations may rewrite large
    /// tables and wait for each other's lock.
    func makePool(database: DatabaseOptions, logger: Logger) throws -> PostgresPool {
        // The owner's URL alone is enough: a one-shot migrate container never holds the API's.
        let environment = ProcessInfo.processInfo.environment
        let ownersURL = try migrateDatabaseURL ?? Setting<String>.text("CUSTODIAN_MIGRATE_DATABASE_URL", environment: environment)
        let connectionString = try ownersURL ?? Setting("DATABASE_URL", default: nil).resolve(flag: database.databaseURL)
        return PostgresPool(
            configuration: .init(connectionString: connectionString, maxConnections: 1, limits: .unlimited),
            logger: logger
        )
    }

    func role() throws -> APIRole {
        let name = try Setting("CUSTODIAN_API_ROLE", default: APIRole.defaultName).resolve(flag: apiRole)
        do {
            return try APIRole(name)
        } catch {
            throw ValidationError("\(error)")
        }
    }
}

/// Prints to stderr and exits non-zero: for refusals a person or a script must see.
func fail(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data(("custodian: " + message + "\n").utf8))
    return ExitCode.failure
}
