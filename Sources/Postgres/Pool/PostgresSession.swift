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

/// One connection lent by the pool: statements run in order on it, each on the pool's threads.
public struct PostgresSession: Queryable {
    let connection: LibPQConnection
    let threads: NIOThreadPool

    public func query(_ sql: String, _ parameters: [any PostgresBindable]) async throws -> QueryResult {
        let bindings = parameters.map(\.postgresBinding)
        return try await threads.runIfActive { [connection] in try connection.query(sql, bindings) }
    }

    /// Runs SQL that may hold several statements separated by semicolons; it takes no parameters.
    public func executeScript(_ sql: String) async throws {
        try await threads.runIfActive { [connection] in try connection.executeScript(sql) }
    }

    /// Runs `body` in one transaction on this session: committed when it returns, rolled back when
    /// it throws. A commit that fails (a serialization failure, a deferred constraint) throws too.
    @discardableResult
    public func transaction<Result>(
        isolation: IsolationLevel = .readCommitted,
        readOnly: Bool = false,
        _ body: (PostgresSession) async throws -> Result
    ) async throws -> Result {
        try await executeScript("BEGIN ISOLATION LEVEL \(isolation.rawValue)\(readOnly ? " READ ONLY" : "")")
        let result: Result
        do {
            result = try await body(self)
        } catch {
            await rollbackAfterFailure()
            throw error
        }
        try await threads.runIfActive { [connection] in
            // COMMIT of a failed transaction "succeeds" as a ROLLBACK; a swallowed error must not look committed.
            if connection.isInFailedTransaction {
                try connection.executeScript("ROLLBACK")
                throw PostgresError(
                    kind: .transactionAborted,
                    sqlState: "25P02",
                    message: "the transaction had failed and was rolled back instead of committed"
                )
            }
            try connection.executeScript("COMMIT")
        }
        return result
    }

    private func rollbackAfterFailure() async {
        // If even ROLLBACK fails the connection is in an unknown state; the pool replaces it on release.
        _ = try? await executeScript("ROLLBACK")
    }
}
