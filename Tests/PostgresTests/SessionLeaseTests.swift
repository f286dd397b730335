import Postgres
import TestSupport
import Testing

@Suite("A session is good for its closure only, and a nested transaction inherits the outer one's mode")
struct SessionLeaseTests {
    @Test func aSessionKeptPastItsClosureIsRefusedEvenWhenItsConnectionServesSomeoneElse() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool(maxConnections: 1) { pool in
                let kept = try await pool.withConnection { $0 }
                // The one connection now serves another caller's transaction: the kept session
                // must not be able to write into it.
                try await pool.transaction { transaction in
                    let error = try await #require(throws: PostgresUsageError.self) {
                        try await kept.execute("SELECT 1")
                    }
                    #expect(error == .sessionEnded)
                    let one: Int = try await transaction.query("SELECT 1 AS one").single().decode("one")
                    #expect(one == 1)
                }
                await #expect(throws: PostgresUsageError.sessionEnded) { try await kept.transaction { _ in } }
                await #expect(throws: PostgresUsageError.sessionEnded) { try await kept.executeScript("SELECT 1") }
                #expect(pool.usage.lent == 0)
            }
        }
    }

    @Test func aNestedTransactionInheritsTheOuterModeAndRefusesAnother() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool { pool in
                try await pool.transaction(isolation: .repeatableRead, readOnly: true) { outer in
                    let shown: String = try await outer.transaction { inner in
                        try await inner.query("SHOW transaction_isolation").single().decode("transaction_isolation")
                    }
                    #expect(shown == "repeatable read")
                    // Asking for what the outer transaction is already is no conflict.
                    try await outer.transaction(isolation: .repeatableRead) { _ in }
                    let other = try await #require(throws: PostgresUsageError.self) {
                        try await outer.transaction(isolation: .serializable) { _ in }
                    }
                    #expect(other == .nestedTransactionMode(outer: "REPEATABLE READ READ ONLY", asked: "SERIALIZABLE READ ONLY"))
                    await #expect(throws: PostgresUsageError.self) {
                        try await outer.transaction(readOnly: false) { _ in }
                    }
                }
                // The default of a transaction that nests in nothing is READ COMMITTED, read-write.
                let shown: String = try await pool.transaction { transaction in
                    try await transaction.execute("CREATE TEMPORARY TABLE scratch (id int)")
                    return try await transaction.query("SHOW transaction_isolation").single().decode("transaction_isolation")
                }
                #expect(shown == "read committed")
            }
        }
    }

    @Test func anAmbientTransactionIsInheritedByWhatRunsInsideIt() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool { pool in
                let error = try await #require(throws: PostgresUsageError.self) {
                    try await pool.withAmbientTransaction {
                        try await pool.transaction(isolation: .serializable) { _ in }
                    }
                }
                #expect(error == .nestedTransactionMode(outer: "READ COMMITTED READ WRITE", asked: "SERIALIZABLE READ WRITE"))
            }
        }
    }
}
