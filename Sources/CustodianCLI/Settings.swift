import ArgumentParser
import Foundation
import Logging
import Postgres

/// Reads one setting: the flag when given, else the environment variable, else the default.
struct Setting<Value> {
    let environmentKey: String
    let defaultValue: Value?
    let parse: (String) -> Value?

    func resolve(flag: Value?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Value {
        if let flag { return flag }
        if let raw = environment[environmentKey], !raw.isEmpty {
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
}

extension Setting where Value == String {
    init(_ environmentKey: String, default defaultValue: String?) {
        self.init(environmentKey: environmentKey, defaultValue: defaultValue, parse: { $0 })
    }
}

extension Setting where Value == Int {
    init(_ environmentKey: String, default defaultValue: Int) {
        self.init(environmentKey: environmentKey, defaultValue: defaultValue, parse: { Int($0).flatMap { $0 > 0 ? $0 : nil } })
    }
}

/// Options every command that talks to the database shares.
struct DatabaseOptions: ParsableArguments {
    @Option(help: "libpq connection string or URL. Env: DATABASE_URL.")
    var databaseURL: String?

    @Option(help: "Maximum database connections (and database threads). Env: CUSTODIAN_DB_POOL_SIZE; default 8.")
    var dbPoolSize: Int?

    @Option(help: "Seconds a request waits for a free database connection. Env: CUSTODIAN_DB_ACQUIRE_TIMEOUT; default 5.")
    var dbAcquireTimeout: Int?

    @Option(help: "Directory of the NNNN_name.sql migration files. Env: CUSTODIAN_MIGRATIONS_DIR; default ./migrations.")
    var migrationsDir: String?

    @Option(help: "trace, debug, info, notice, warning, error or critical. Env: CUSTODIAN_LOG_LEVEL; default info.")
    var logLevel: String?

    func makePool(logger: Logger) throws -> PostgresPool {
        let configuration = PostgresPool.Configuration(
            connectionString: try Setting("DATABASE_URL", default: nil).resolve(flag: databaseURL),
            maxConnections: try Setting("CUSTODIAN_DB_POOL_SIZE", default: 8).resolve(flag: dbPoolSize),
            acquireTimeout: .seconds(try Setting("CUSTODIAN_DB_ACQUIRE_TIMEOUT", default: 5).resolve(flag: dbAcquireTimeout))
        )
        return PostgresPool(configuration: configuration, logger: logger)
    }

    func migrationsDirectory() throws -> URL {
        URL(fileURLWithPath: try Setting("CUSTODIAN_MIGRATIONS_DIR", default: "migrations").resolve(flag: migrationsDir))
    }

    enum LogStream { case standardOutput, standardError }

    /// Bootstraps swift-log once per process and returns the root logger. Commands whose stdout
    /// is their answer log to stderr.
    func makeLogger(label: String, to stream: LogStream = .standardOutput) throws -> Logger {
        let levelName = try Setting("CUSTODIAN_LOG_LEVEL", default: "info").resolve(flag: logLevel)
        guard let level = Logger.Level(rawValue: levelName.lowercased()) else {
            throw ValidationError("unknown log level \(levelName)")
        }
        LoggingSystem.bootstrap { label in
            var handler =
                stream == .standardOutput ? StreamLogHandler.standardOutput(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: label)
    }
}

/// Prints to stderr and exits non-zero: for refusals a person or a script must see.
func fail(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data(("custodian: " + message + "\n").utf8))
    return ExitCode.failure
}
