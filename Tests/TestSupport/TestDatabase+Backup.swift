import Foundation

/// Backups as an operator takes them: `pg_dump` of one test database, restored with `pg_restore`
/// into another, as the superuser.
extension TestDatabase {
    /// This database's libpq connection string (the server's, naming this database).
    public var connectionString: String {
        if var url = URLComponents(string: serverConnectionString), url.scheme?.hasPrefix("postgres") == true {
            url.path = "/" + name
            return url.string ?? serverConnectionString
        }
        return serverConnectionString + " dbname=\(name)"
    }

    /// A dump in pg_dump's custom format.
    public func dump(to path: String) throws {
        try ChildProcess.run(try Self.tool("pg_dump"), ["--format=custom", "--file=\(path)", "--dbname=\(connectionString)"])
    }

    /// Restores a dump into this (empty) database, stopping at the first error.
    public func restore(from path: String) throws {
        try ChildProcess.run(try Self.tool("pg_restore"), ["--exit-on-error", "--dbname=\(connectionString)", path])
    }

    private static func tool(_ name: String) throws -> String {
        if let configured = ProcessInfo.processInfo.environment["PG_BINDIR"] { return configured + "/" + name }
        let directory = try ChildProcess.run("/usr/bin/pg_config", ["--bindir"]).trimmingCharacters(in: .whitespacesAndNewlines)
        return directory + "/" + name
    }
}
