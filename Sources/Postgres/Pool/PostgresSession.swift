import NIOPosix

/// Statements that can run on a pool (each on whichever connection is free) or on one session.
public protocol Queryable: Sendable {
    /// Runs one statement; values reach the server only as `$1..$n` bind parameters.
    func query(_ sql: String, _ parameters: [any PostgresBindable], planning: StatementPlanning) async throws -> QueryResult
}

/// How PostgreSQL plans a statement.
public enum StatementPlanning: Sendable {
    /// Prepared once per connection and reused. After five runs PostgreSQL may settle on one
    /// generic plan for every value, when that plan does not look costlier than those it made.
    case prepared
    /// Planned for its values on every run, for a statement whose best plan depends on them: a
    /// search for a text most rows contain walks them in order and stops at a page, one for a
    /// rare text asks the index, and one generic plan serves one of the two badly. Costs a parse
    /// and a plan per run.
    case forItsValues
}

extension Queryable {
    public func query(_ sql: String, _ parameters: [any PostgresBindable]) async throws -> QueryResult {
        try await query(sql, parameters, planning: .prepared)
    }

    public func query(_ sql: String) async throws -> QueryResult {
        try await query(sql, [])
    }

    /// Runs one statement and returns how many rows it affected.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [any PostgresBindable] = []) async throws -> Int {
        try await query(sql, parameters).affectedRows
    }
}

public enum IsolationLevel: String, Sendable, CaseIterable {
    case readCommitted = "READ COMMITTED"
    case repeatableRead = "REPEATABLE READ"
    case serializable = "SERIALIZABLE"
}

/// One connection lent by the pool: statements run in order on it, sent and read by the calling
/// task (see `LibPQConnection`).
///
/// A statement runs only for a task that is not cancelled, and a task cancelled while its
/// statement runs (or whose client went away, see `StatementScope`) cancels it on the server;
/// the connection stays usable. Transaction control is never interrupted, so a transaction is
/// always committed or rolled back cleanly.
///
/// A session is good for the closure it is lent to (`PostgresPool.withConnection`, `transaction`)
/// and no longer: kept beyond it, its connection may already serve someone else's transaction,
/// so every use checks the lease it was lent under and throws `PostgresUsageError.sessionEnded`.
public struct PostgresSession: Queryable {
    let connection: LibPQConnection
    /// The lease this session was lent under (see `LibPQConnection.beginLease`).
    let lease: UInt64
    let threads: NIOThreadPool

    private func requireLease() throws {
        guard connection.isLeased(lease) else { throw PostgresUsageError.sessionEnded }
    }

    public func query(_ sql: String, _ parameters: [any PostgresBindable], planning: StatementPlanning) async throws -> QueryResult {
        try requireLease()
        try Task.checkCancellation()
        let bindings = parameters.map(\.postgresBinding)
        let interruption = StatementInterruption(abandoned: StatementScope.watch)
        return try await withTaskCancellationHandler {
            try await connection.query(sql, bindings, planning: planning, interruption: interruption, threads: threads)
        } onCancel: {
            interruption.request()
            SocketWaiter.shared.wake()
        }
    }

    /// Runs SQL that may hold several statements separated by semicolons; it takes no parameters.
    public func executeScript(_ sql: String) async throws {
        try requireLease()
        try Task.checkCancellation()
        let interruption = StatementInterruption(abandoned: StatementScope.watch)
        try await withTaskCancellationHandler {
            try await connection.executeScript(sql, interruption: interruption, threads: threads)
        } onCancel: {
            interruption.request()
            SocketWaiter.shared.wake()
        }
    }

    /// BEGIN, COMMIT, ROLLBACK and savepoints: run even for a cancelled task, never interrupted.
    private func control(_ sql: String) async throws {
        try await connection.executeScript(sql, interruption: nil, threads: threads)
    }

    /// Runs `body` in one transaction on this session: committed when it returns, rolled back when
    /// it throws. A commit that fails (a serialization failure, a deferred constraint) throws too.
    /// Inside a transaction already, `body` runs in a savepoint: its failure undoes only its own
    /// work, and the outer transaction decides about the rest. A nested transaction inherits the
    /// outer one's isolation level and mode; asking for others throws
    /// `PostgresUsageError.nestedTransactionMode` (a savepoint cannot change them).
    ///
    /// - Parameters:
    ///   - isolation: nil inherits the outer transaction's, or is READ COMMITTED for a new one.
    ///   - readOnly: nil inherits the outer transaction's, or is read-write for a new one.
    @discardableResult
    public func transaction<Result>(
        isolation: IsolationLevel? = nil,
        readOnly: Bool? = nil,
        _ body: (PostgresSession) async throws -> Result
    ) async throws -> Result {
        try requireLease()
        if connection.isInTransaction {
            try requireInherits(isolation: isolation, readOnly: readOnly)
            return try await savepoint(body)
        }
        try Task.checkCancellation()
        let mode = (isolation: isolation ?? .readCommitted, readOnly: readOnly ?? false)
        try await control("BEGIN ISOLATION LEVEL \(mode.isolation.rawValue)\(mode.readOnly ? " READ ONLY" : "")")
        connection.transactionMode = mode
        defer { connection.transactionMode = nil }
        let result: Result
        do {
            if !mode.readOnly, !Self.transactionSettings.isEmpty { try await applyTransactionSettings() }
            result = try await body(self)
        } catch {
            await rollbackAfterFailure("ROLLBACK")
            throw error
        }
        // COMMIT of a failed transaction "succeeds" as a ROLLBACK; a swallowed error must not look committed.
        if connection.isInFailedTransaction {
            try await control("ROLLBACK")
            throw PostgresError(
                kind: .transactionAborted,
                sqlState: "25P02",
                message: "the transaction had failed and was rolled back instead of committed"
            )
        }
        try await control("COMMIT")
        return result
    }

    /// Settings every read-write transaction begun in this task starts with (`set_config(name,
    /// value, true)`: they end with the transaction), for triggers that need to know who acts.
    /// One round trip more per such transaction; none when empty.
    @TaskLocal public static var transactionSettings = TransactionSettings.none

    private func applyTransactionSettings() async throws {
        let settings = Self.transactionSettings.values()
        var parameters: [any PostgresBindable] = []
        var calls: [String] = []
        for (name, value) in settings {
            parameters += [name, value]
            calls.append("set_config($\(parameters.count - 1), $\(parameters.count), true)")
        }
        _ = try await execute("SELECT " + calls.joined(separator: ", "), parameters)
    }

    /// A nested transaction gets the outer one's isolation and mode; asking for others is a bug.
    /// (A transaction begun with a plain BEGIN statement has no recorded mode and is trusted.)
    private func requireInherits(isolation: IsolationLevel?, readOnly: Bool?) throws {
        guard let outer = connection.transactionMode else { return }
        let isolationDiffers = isolation.map { $0 != outer.isolation } ?? false
        let modeDiffers = readOnly.map { $0 != outer.readOnly } ?? false
        guard isolationDiffers || modeDiffers else { return }
        func describe(_ isolation: IsolationLevel, _ readOnly: Bool) -> String {
            "\(isolation.rawValue) \(readOnly ? "READ ONLY" : "READ WRITE")"
        }
        throw PostgresUsageError.nestedTransactionMode(
            outer: describe(outer.isolation, outer.readOnly),
            asked: describe(isolation ?? outer.isolation, readOnly ?? outer.readOnly)
        )
    }

    private func savepoint<Result>(_ body: (PostgresSession) async throws -> Result) async throws -> Result {
        try await control("SAVEPOINT nested")
        do {
            let result = try await body(self)
            try await control("RELEASE SAVEPOINT nested")
            return result
        } catch {
            await rollbackAfterFailure("ROLLBACK TO SAVEPOINT nested; RELEASE SAVEPOINT nested")
            throw error
        }
    }

    private func rollbackAfterFailure(_ sql: String) async {
        // If even this fails the connection is in an unknown state; the pool replaces it on release.
        _ = try? await control(sql)
    }
}

/// What `PostgresSession.transactionSettings` holds: the settings, made only when a read-write
/// transaction needs them (most requests only read, and making them can cost more than the read).
public struct TransactionSettings: Sendable {
    public let isEmpty: Bool
    public let values: @Sendable () -> [(name: String, value: String)]

    public static let none = TransactionSettings(isEmpty: true, values: { [] })

    /// Settings made by `values` when first needed (in each transaction that needs them).
    public init(_ values: @escaping @Sendable () -> [(name: String, value: String)]) {
        self.init(isEmpty: false, values: values)
    }

    private init(isEmpty: Bool, values: @escaping @Sendable () -> [(name: String, value: String)]) {
        self.isEmpty = isEmpty
        self.values = values
    }
}
