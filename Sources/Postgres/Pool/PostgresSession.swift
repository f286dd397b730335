import NIOPosix

/// Statements that can run on a pool (each on whichever connection is free) or on one session.
public protocol Queryable: Sendable {
    /// Runs one statement; values reach the server only as `$1..$n` bind parameters.
    func query(_ sql: String, _ parameters: [any PostgresBindable]) async throws -> QueryResult
}

extension Queryable {
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
public struct PostgresSession: Queryable {
    let connection: LibPQConnection
    let threads: NIOThreadPool

    public func query(_ sql: String, _ parameters: [any PostgresBindable]) async throws -> QueryResult {
        try Task.checkCancellation()
        let bindings = parameters.map(\.postgresBinding)
        let interruption = StatementInterruption(abandoned: StatementScope.watch)
        return try await withTaskCancellationHandler {
            try await connection.query(sql, bindings, interruption: interruption, threads: threads)
        } onCancel: {
            interruption.request()
            SocketWaiter.shared.wake()
        }
    }

    /// Runs SQL that may hold several statements separated by semicolons; it takes no parameters.
    public func executeScript(_ sql: String) async throws {
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
    /// work, and the outer transaction decides about the rest.
    @discardableResult
    public func transaction<Result>(
        isolation: IsolationLevel = .readCommitted,
        readOnly: Bool = false,
        _ body: (PostgresSession) async throws -> Result
    ) async throws -> Result {
        if connection.isInTransaction {
            return try await savepoint(body)
        }
        try Task.checkCancellation()
        try await control("BEGIN ISOLATION LEVEL \(isolation.rawValue)\(readOnly ? " READ ONLY" : "")")
        let result: Result
        do {
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
