/// Time limits every session of a pool runs under, so that no statement, lock wait or forgotten
/// transaction can hold a connection (and the request behind it) for ever. `nil` is no limit.
public struct SessionLimits: Sendable, Equatable {
    public var statementTimeout: Duration?
    public var lockTimeout: Duration?
    public var idleInTransactionTimeout: Duration?

    public init(statementTimeout: Duration?, lockTimeout: Duration?, idleInTransactionTimeout: Duration?) {
        self.statementTimeout = statementTimeout
        self.lockTimeout = lockTimeout
        self.idleInTransactionTimeout = idleInTransactionTimeout
    }

    /// What the API runs under unless configured otherwise.
    public static let api = SessionLimits(
        statementTimeout: .seconds(10),
        lockTimeout: .seconds(3),
        idleInTransactionTimeout: .seconds(60)
    )

    /// For migrations, which may rewrite large tables and wait for each other's advisory lock.
    public static let unlimited = SessionLimits(statementTimeout: nil, lockTimeout: nil, idleInTransactionTimeout: nil)

    /// The three settings in milliseconds, as PostgreSQL reads them ("0" switches one off).
    var settingValues: [String] {
        [statementTimeout, lockTimeout, idleInTransactionTimeout].map { limit in
            guard let limit else { return "0" }
            let milliseconds = limit.components.seconds * 1000 + limit.components.attoseconds / 1_000_000_000_000_000
            return String(max(1, milliseconds))
        }
    }
}
