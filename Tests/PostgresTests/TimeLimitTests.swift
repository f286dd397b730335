import Foundation
import Postgres
import Synchronization
import TestSupport
import Testing

@Suite("Time limits, cancellation and retries keep connections moving")
struct TimeLimitTests {
    @Test func everySessionRunsUnderTheConfiguredLimits() async throws {
        try await TestPostgres.shared.withDatabase { database in
            let limits = SessionLimits(
                statementTimeout: .seconds(7), lockTimeout: .milliseconds(1500), idleInTransactionTimeout: .seconds(42))
            try await database.withPool(limits: limits) { pool in
                let row = try await pool.query(
                    """
                    SELECT current_setting('statement_timeout') AS statement, current_setting('lock_timeout') AS lock,
                           current_setting('idle_in_transaction_session_timeout') AS idle, current_setting('TimeZone') AS zone
                    """
                ).single()
                #expect(try row.decode("statement", as: String.self) == "7s")
                #expect(try row.decode("lock", as: String.self) == "1500ms")
                #expect(try row.decode("idle", as: String.self) == "42s")
                #expect(try row.decode("zone", as: String.self) == "UTC")
            }
        }
    }

    @Test func aHeldLockEndsInATimeoutInsteadOfAHang() async throws {
        try await TestPostgres.shared.withDatabase { database in
            let limits = SessionLimits(statementTimeout: .seconds(10), lockTimeout: .milliseconds(300), idleInTransactionTimeout: nil)
            try await database.withPool(maxConnections: 2, limits: limits) { pool in
                try await pool.execute("CREATE TABLE guarded (id int)")
                try await pool.withConnection { holder in
                    try await holder.execute("BEGIN")
                    try await holder.execute("LOCK TABLE guarded IN ACCESS EXCLUSIVE MODE")
                    let started = ContinuousClock.now
                    let error = try await #require(throws: PostgresError.self) {
                        try await pool.execute("INSERT INTO guarded VALUES (1)")
                    }
                    #expect(error.kind == .timeout)
                    #expect(error.sqlState == "55P03")
                    #expect(ContinuousClock.now - started < .seconds(3))
                    try await holder.execute("ROLLBACK")
                }
                #expect(try await pool.execute("INSERT INTO guarded VALUES (1)") == 1)
            }
        }
    }

    @Test func aLongStatementEndsAtTheStatementTimeout() async throws {
        try await TestPostgres.shared.withDatabase { database in
            let limits = SessionLimits(statementTimeout: .milliseconds(200), lockTimeout: nil, idleInTransactionTimeout: nil)
            try await database.withPool(maxConnections: 1, limits: limits) { pool in
                let error = try await #require(throws: PostgresError.self) { try await pool.execute("SELECT pg_sleep(30)") }
                #expect(error.kind == .timeout)
                #expect(error.sqlState == "57014")
                #expect(try await pool.query("SELECT 1 AS one").single().decode("one", as: Int.self) == 1)
            }
        }
    }

    /// The backend of the pool's only connection, and whether it is running a statement now.
    private func backend(of pool: PostgresPool, database: TestDatabase) async throws -> (pid: Int, active: Bool)? {
        let rows = try await TestPostgres.shared.adminQuery(
            "SELECT pid, state = 'active' AS active FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'",
            [database.name]
        )
        guard let row = rows.first else { return nil }
        return (try row.decode("pid"), try row.decode("active"))
    }

    @Test func aCancelledTaskCancelsItsStatementAndFreesTheConnection() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool(maxConnections: 1, limits: .unlimited) { pool in
                let before: Int = try await pool.query("SELECT pg_backend_pid() AS pid").single().decode("pid")
                let sleeper = Task { try await pool.execute("SELECT pg_sleep(60)") }
                try await TestPostgres.waitUntil { try await backend(of: pool, database: database)?.active == true }
                let started = ContinuousClock.now
                sleeper.cancel()
                let error = try await #require(throws: PostgresError.self) { try await sleeper.value }
                #expect(error.kind == .cancelled)
                #expect(ContinuousClock.now - started < .seconds(5))
                #expect(pool.usage.lent == 0)
                // The same connection, idle and usable: nothing was reconnected.
                let after: Int = try await pool.query("SELECT pg_backend_pid() AS pid").single().decode("pid")
                #expect(after == before)
            }
        }
    }

    @Test func aStatementWhoseClientIsGoneIsCancelled() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool(maxConnections: 1, limits: .unlimited) { pool in
                let gone = Flag()
                let work = Task {
                    try await StatementScope.$watch.withValue(StatementScope.Watch { gone.isSet }) {
                        try await pool.execute("SELECT pg_sleep(60)")
                    }
                }
                try await TestPostgres.waitUntil { try await backend(of: pool, database: database)?.active == true }
                gone.set()
                let error = try await #require(throws: PostgresError.self) { try await work.value }
                #expect(error.kind == .cancelled)
                #expect(try await pool.query("SELECT 1 AS one").single().decode("one", as: Int.self) == 1)
            }
        }
    }

    @Test func aCancelledTaskRollsBackItsTransaction() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool(maxConnections: 1, limits: .unlimited) { pool in
                try await pool.execute("CREATE TABLE entries (n int)")
                let work = Task {
                    try await pool.transaction { transaction in
                        try await transaction.execute("INSERT INTO entries VALUES (1)")
                        try await transaction.execute("SELECT pg_sleep(60)")
                    }
                }
                try await TestPostgres.waitUntil { try await backend(of: pool, database: database)?.active == true }
                work.cancel()
                await #expect(throws: PostgresError.self) { try await work.value }
                #expect(try await pool.query("SELECT * FROM entries").isEmpty)
            }
        }
    }

    @Test func transactionsThatLoseARaceAreRunAgain() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool(maxConnections: 2) { pool in
                try await pool.execute("CREATE TABLE bookings (seat int)")
                let attempts = Counter()
                let bothRead = Counter()
                // Two serializable transactions each read the table, then book a seat: write skew,
                // so one of them fails at first and is run again.
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for seat in 1...2 {
                        group.addTask {
                            try await pool.transaction(isolation: .serializable) { transaction in
                                let attempt = attempts.increment()
                                _ = try await transaction.query("SELECT count(*) FROM bookings")
                                if attempt <= 2 {
                                    bothRead.increment()
                                    try await TestPostgres.waitUntil { bothRead.value >= 2 }
                                }
                                try await transaction.execute("INSERT INTO bookings VALUES ($1)", [seat])
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                #expect(attempts.value == 3)
                let seats = try await pool.query("SELECT seat FROM bookings ORDER BY seat").map { try $0.decode("seat", as: Int.self) }
                #expect(seats == [1, 2])
            }
        }
    }

    @Test func retriesAreBounded() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool(transactionRetries: 2) { pool in
                let attempts = Counter()
                let error = try await #require(throws: PostgresError.self) {
                    try await pool.transaction { transaction in
                        attempts.increment()
                        try await transaction.execute("DO $$ BEGIN RAISE EXCEPTION 'lost' USING ERRCODE = '40001'; END $$")
                    }
                }
                #expect(error.kind == .serializationFailure)
                #expect(attempts.value == 3)
            }
        }
    }

    @Test func anAmbientTransactionTakesInEveryStatementOfItsTask() async throws {
        struct Abort: Error {}
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool(maxConnections: 2) { pool in
                try await pool.execute("CREATE TABLE parts (name text)")
                await #expect(throws: Abort.self) {
                    try await pool.withAmbientTransaction {
                        try await pool.execute("INSERT INTO parts VALUES ('direct')")
                        try await pool.transaction { try await $0.execute("INSERT INTO parts VALUES ('nested')") }
                        throw Abort()
                    }
                }
                #expect(try await pool.query("SELECT * FROM parts").isEmpty)

                try await pool.withAmbientTransaction {
                    try await pool.execute("INSERT INTO parts VALUES ('kept')")
                    // A nested transaction that fails undoes only itself.
                    _ = try? await pool.transaction { transaction in
                        try await transaction.execute("INSERT INTO parts VALUES ('undone')")
                        _ = try await transaction.query("SELECT 1/0")
                    }
                    try await pool.execute("INSERT INTO parts VALUES ('also kept')")
                    #expect(pool.usage.lent == 1)
                }
                let names = try await pool.query("SELECT name FROM parts ORDER BY name").map { try $0.decode("name", as: String.self) }
                #expect(names == ["also kept", "kept"])
            }
        }
    }
}

/// Shared between a test and the tasks it starts.
private final class Counter: Sendable {
    private let count = Mutex(0)

    @discardableResult
    func increment() -> Int {
        count.withLock { value in
            value += 1
            return value
        }
    }

    var value: Int { count.withLock { $0 } }
}

private final class Flag: Sendable {
    private let state = Atomic<Bool>(false)

    func set() { state.store(true, ordering: .relaxed) }
    var isSet: Bool { state.load(ordering: .relaxed) }
}
