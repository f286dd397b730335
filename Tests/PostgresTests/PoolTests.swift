import Foundation
import Postgres
import TestSupport
import Testing

@Suite("The pool bounds, queues, times out and heals")
struct PoolTests {
    @Test func callersWaitForAFreeConnectionAndTimeOut() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool(maxConnections: 2, acquireTimeout: .milliseconds(300)) { pool in
                // Two long holders take both connections; a third caller times out.
                async let first: Void = pool.withConnection { try await $0.execute("SELECT pg_sleep(1.5)") }
                async let second: Void = pool.withConnection { try await $0.execute("SELECT pg_sleep(1.5)") }
                try await TestPostgres.waitUntil { pool.usage.lent == 2 }
                let started = ContinuousClock.now
                let error = await #expect(throws: PostgresPoolError.self) {
                    try await pool.query("SELECT 1")
                }
                #expect(error == .acquireTimeout(.milliseconds(300)))
                #expect(ContinuousClock.now - started >= .milliseconds(300))
                _ = try await (first, second)
                // Once they are back, the next caller gets one at once.
                #expect(try await pool.query("SELECT 1 AS one").single().decode("one", as: Int.self) == 1)
                // For metrics: one caller queued, for about 0.3 s, and gave up.
                let totals = pool.waitTotals
                #expect(totals.waits == 1 && totals.timeouts == 1, "\(totals)")
                #expect(totals.seconds >= 0.3 && totals.seconds < 1.5, "\(totals)")
            }
        }
    }

    @Test func aShortTimeoutQueuedBehindALongOneExpiresOnTime() async throws {
        // One watch fails every waiter whose time is up; it wakes for the earliest deadline, not
        // for the first waiter's.
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool(maxConnections: 1, acquireTimeout: .seconds(30)) { pool in
                async let holder: Void = pool.withConnection { try await $0.execute("SELECT pg_sleep(2)") }
                try await TestPostgres.waitUntil { pool.usage.lent == 1 }
                let patient = Task {
                    try await pool.withConnection { try await $0.query("SELECT 1 AS one").single().decode("one", as: Int.self) }
                }
                try await TestPostgres.waitUntil { pool.usage.waiting == 1 }
                let started = ContinuousClock.now
                let error = await #expect(throws: PostgresPoolError.self) {
                    try await pool.withConnection(timeout: .milliseconds(200)) { try await $0.execute("SELECT 1") }
                }
                #expect(error == .acquireTimeout(.milliseconds(200)))
                let waited = ContinuousClock.now - started
                #expect(waited >= .milliseconds(200) && waited < .seconds(1.5))
                #expect(pool.usage.waiting == 1)
                try await holder
                #expect(try await patient.value == 1)
                #expect(pool.usage.waiting == 0)
            }
        }
    }

    @Test func statementsLargerThanTheSocketBufferAndLargeResultsGoThrough() async throws {
        // libpq in non-blocking mode sends what the socket takes and the rest as it drains, and
        // reads a result in as many pieces as it arrives in.
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool(maxConnections: 2) { pool in
                let large = String(repeating: "abcdefgh", count: 1 << 20)
                let row = try await pool.query(
                    "SELECT length($1::text) AS sent, $1::text = repeat('abcdefgh', 1048576) AS intact", [large]
                ).single()
                #expect(try row.decode("sent", as: Int.self) == large.utf8.count)
                #expect(try row.decode("intact", as: Bool.self))
                let back = try await pool.query("SELECT repeat('x', 8 * 1024 * 1024) AS text").single().decode("text", as: String.self)
                #expect(back.utf8.count == 8 * 1024 * 1024)
            }
        }
    }

    @Test func manyConcurrentCallersShareFewConnections() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool(maxConnections: 3) { pool in
                try await pool.execute("CREATE TABLE hits (n int)")
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for n in 0..<200 {
                        group.addTask { try await pool.execute("INSERT INTO hits VALUES ($1)", [n]) }
                    }
                    try await group.waitForAll()
                }
                let count: Int = try await pool.query("SELECT count(*) AS n FROM hits").single().decode("n")
                #expect(count == 200)
                let backends: Int = try await pool.query(
                    "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'"
                ).single().decode("n")
                #expect(backends <= 3)
                #expect(pool.usage.lent == 0)
            }
        }
    }

    @Test func aCancelledWaiterLeavesTheQueue() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool(maxConnections: 1, acquireTimeout: .seconds(30)) { pool in
                async let holder: Void = pool.withConnection { try await $0.execute("SELECT pg_sleep(0.8)") }
                try await TestPostgres.waitUntil { pool.usage.lent == 1 }
                let waiter = Task { try await pool.query("SELECT 1") }
                try await TestPostgres.waitUntil { pool.usage.waiting == 1 }
                waiter.cancel()
                await #expect(throws: CancellationError.self) { try await waiter.value }
                try await holder
                #expect(try await pool.query("SELECT 2 AS two").single().decode("two", as: Int.self) == 2)
            }
        }
    }

    @Test func terminatedBackendsAreReplacedWithoutARestart() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool(maxConnections: 3) { pool in
                // Open all three connections, then kill every backend of this database behind the
                // pool's back, waiting until each has exited (and so closed its socket).
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<3 { group.addTask { try await pool.execute("SELECT pg_sleep(0.2)") } }
                    try await group.waitForAll()
                }
                #expect(pool.usage.idle == 3)
                let killed: Int = try await TestPostgres.shared.adminQuery(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000)) AS n FROM pg_stat_activity WHERE datname = $1",
                    [database.name]
                ).single().decode("n")
                #expect(killed == 3)
                // Every pooled connection is dead; each query still succeeds on the first try.
                for _ in 0..<5 {
                    #expect(try await pool.query("SELECT 1 AS one").single().decode("one", as: Int.self) == 1)
                }
                try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<3 {
                        group.addTask { try await pool.query("SELECT 1 AS one, pg_sleep(0.1)").single().decode("one") }
                    }
                    for try await one in group { #expect(one == 1) }
                }
            }
        }
    }

    @Test func aConnectionKilledMidTransactionFailsThatTransactionOnly() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool(maxConnections: 1) { pool in
                let error = try await #require(throws: PostgresError.self) {
                    try await pool.transaction { transaction in
                        _ = try await transaction.query("SELECT pg_terminate_backend(pg_backend_pid())")
                    }
                }
                #expect(error.kind == .connection)
                #expect(try await pool.query("SELECT 1 AS one").single().decode("one", as: Int.self) == 1)
            }
        }
    }

    @Test func aClosedPoolRefusesWork() async throws {
        try await TestPostgres.shared.withDatabase { database in
            let pool = database.makePool()
            _ = try await pool.query("SELECT 1")
            await pool.close()
            await #expect(throws: PostgresPoolError.closed) { try await pool.query("SELECT 1") }
        }
    }

    @Test func urlAndKeywordConnectionStringsBothWork() async throws {
        try await TestPostgres.shared.withDatabase { database in
            // Rebuild the server's keyword string as a URL with the socket directory as host parameter.
            var settings: [String: String] = [:]
            for pair in database.serverConnectionString.split(separator: " ") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2 { settings[String(parts[0])] = String(parts[1]) }
            }
            guard let host = settings["host"], let user = settings["user"] else {
                return // TEST_DATABASE_URL is already a URL; the keyword form is covered by the cluster runs.
            }
            let url = "postgresql://\(user)@/\(database.name)?host=\(host)&port=\(settings["port"] ?? "5432")&application_name=url-check"
            let pool = PostgresPool(configuration: .init(connectionString: url), logger: TestPostgres.logger)
            let row = try await pool.query("SELECT current_database() AS db, current_setting('application_name') AS app").single()
            #expect(try row.decode("db", as: String.self) == database.name)
            #expect(try row.decode("app", as: String.self) == "url-check")
            await pool.close()
        }
    }
}
