/// Where a pool connects: the operator's connection string plus what tests and tools pick on top
/// of it (another database or role on the same server).
struct ConnectionTarget: Sendable {
    let connectionString: String
    let databaseName: String?
    let user: String?

    /// Defaults come first: libpq lets the expanded connection string override them. A `dbname` or
    /// `user` after the string is taken as a plain value that overrides the string's.
    func connectionParameters() -> (keywords: [String], values: [String]) {
        var parameters: [(String, String)] = [
            ("fallback_application_name", "custodian"),
            ("connect_timeout", "10"),
            ("client_encoding", "UTF8"),
            // A peer that vanished (a failover, a cut cable) is noticed within about a minute
            // instead of the kernel's two hours.
            ("keepalives", "1"),
            ("keepalives_idle", "30"),
            ("keepalives_interval", "10"),
            ("keepalives_count", "3"),
            ("dbname", connectionString),
        ]
        if let databaseName { parameters.append(("dbname", databaseName)) }
        if let user { parameters.append(("user", user)) }
        return (parameters.map(\.0), parameters.map(\.1))
    }
}
