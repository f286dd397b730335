import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A PostgreSQL cluster that lives for one test process: created with `initdb` in a private
/// temporary directory, reachable only through a unix socket there, stopped and deleted at exit.
///
/// As root, `initdb` and `postgres` run as the `postgres` user (they refuse root).
public final class ThrowawayCluster: Sendable {
    let directory: String
    let socketDirectory: String
    let superuser: String
    private let binDirectory: String
    private let runAsPostgres: Bool

    /// The prefix of every cluster directory, so a later run can find ones a crashed run left behind.
    static let directoryPrefix = "custodian-test-cluster-"

    public var connectionString: String {
        "host=\(socketDirectory) port=5432 user=\(superuser) dbname=postgres"
    }

    /// With `durableCommits`, a commit is acknowledged only once its WAL is written, so a crash
    /// loses no acknowledged transaction (the default trades that for speed).
    public static func start(durableCommits: Bool = false) throws -> ThrowawayCluster {
        removeAbandonedClusters()
        let runAsPostgres = geteuid() == 0
        let binDirectory = try postgresBinDirectory()
        let directory = NSTemporaryDirectory() + directoryPrefix + UUID().uuidString.prefix(8).lowercased()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        try "\(getpid())".write(toFile: directory + "/owner.pid", atomically: true, encoding: .utf8)
        if runAsPostgres {
            try run("/bin/chown", ["-R", "postgres:postgres", directory])
        }
        chmod(directory, 0o700)
        let cluster = ThrowawayCluster(
            directory: directory,
            binDirectory: binDirectory,
            superuser: runAsPostgres ? "postgres" : (ProcessInfo.processInfo.environment["USER"] ?? "postgres"),
            runAsPostgres: runAsPostgres,
            durableCommits: durableCommits
        )
        try cluster.initialize()
        return cluster
    }

    private let durableCommits: Bool

    private init(directory: String, binDirectory: String, superuser: String, runAsPostgres: Bool, durableCommits: Bool) {
        self.durableCommits = durableCommits
        self.directory = directory
        self.socketDirectory = directory
        self.binDirectory = binDirectory
        self.superuser = superuser
        self.runAsPostgres = runAsPostgres
    }

    private func initialize() throws {
        try runTool(
            "initdb",
            ["-D", directory + "/data", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "-U", superuser]
        )
        try startServer()
    }

    /// Starts the server (again, after `stopServer`).
    public func startServer() throws {
        // fsync stays off even for durable commits: the tests crash PostgreSQL, never the machine,
        // and the kernel keeps what was written.
        let serverOptions = [
            "-k \(socketDirectory)", "-c listen_addresses=''", "-p 5432",
            "-c fsync=off", "-c synchronous_commit=\(durableCommits ? "on" : "off")", "-c full_page_writes=off",
            "-c max_connections=400",
        ].joined(separator: " ")
        try runTool("pg_ctl", ["-D", directory + "/data", "-l", directory + "/server.log", "-o", serverOptions, "-w", "start"])
    }

    /// Stops the server the way a crash would: no checkpoint, every backend killed.
    public func stopServer() throws {
        try runTool("pg_ctl", ["-D", directory + "/data", "-m", "immediate", "-w", "stop"])
    }

    /// Stops the server at once (the data is thrown away anyway) and deletes the directory.
    public func destroy() {
        try? runTool("pg_ctl", ["-D", directory + "/data", "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func runTool(_ tool: String, _ arguments: [String]) throws {
        let path = binDirectory + "/" + tool
        if runAsPostgres {
            try Self.run("/usr/sbin/runuser", ["-u", "postgres", "--", path] + arguments)
        } else {
            try Self.run(path, arguments)
        }
    }

    /// Clusters whose test process died without cleaning up (a crash, a kill -9).
    private static func removeAbandonedClusters() {
        let temporary = NSTemporaryDirectory()
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: temporary)) ?? []
        for entry in entries where entry.hasPrefix(directoryPrefix) {
            let directory = temporary + entry
            guard let owner = try? String(contentsOfFile: directory + "/owner.pid", encoding: .utf8),
                let pid = pid_t(owner.trimmingCharacters(in: .whitespacesAndNewlines)),
                kill(pid, 0) != 0, errno == ESRCH
            else { continue }
            if let binDirectory = try? postgresBinDirectory() {
                let stop = [binDirectory + "/pg_ctl", "-D", directory + "/data", "-m", "immediate", "stop"]
                if geteuid() == 0 {
                    _ = try? run("/usr/sbin/runuser", ["-u", "postgres", "--"] + stop)
                } else {
                    _ = try? run(stop[0], Array(stop.dropFirst()))
                }
            }
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    private static func postgresBinDirectory() throws -> String {
        if let configured = ProcessInfo.processInfo.environment["PG_BINDIR"] { return configured }
        let output = try run("/usr/bin/pg_config", ["--bindir"])
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @discardableResult
    private static func run(_ executable: String, _ arguments: [String]) throws -> String {
        try ChildProcess.run(executable, arguments)
    }
}

public struct TestSetupError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
