import Postgres
import TestSupport
import Testing

@Suite("Transactions commit on return and roll back on throw")
struct TransactionTests {
    struct Abort: Error {}

    @Test func returnCommitsAndThrowRollsBack() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool { pool in
                try await pool.execute("CREATE TABLE ledger (entry text)")
                try await pool.transaction { transaction in
                    try await transaction.execute("INSERT INTO ledger VALUES ($1)", ["kept"])
                }
                await #expect(throws: Abort.self) {
                    try await pool.transaction { transaction in
                        try await transaction.execute("INSERT INTO ledger VALUES ($1)", ["discarded"])
                        throw Abort()
                    }
                }
                let entries = try await pool.query("SELECT entry FROM ledger").map { try $0.decode("entry", as: String.self) }
                #expect(entries == ["kept"])
            }
        }
    }

    @Test func aSwallowedStatementErrorDoesNotCommit() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool { pool in
                try await pool.execute("CREATE TABLE ledger (entry text PRIMARY KEY)")
                let error = try await #require(throws: PostgresError.self) {
                    try await pool.transaction { transaction in
                        try await transaction.execute("INSERT INTO ledger VALUES ('first')")
                        _ = try? await transaction.execute("INSERT INTO ledger VALUES ('first')")
                    }
                }
                #expect(error.kind == .transactionAborted)
                #expect(try await pool.query("SELECT * FROM ledger").isEmpty)
            }
        }
    }

    @Test func theIsolationLevelIsTheOneAskedFor() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool { pool in
                for level in IsolationLevel.allCases {
                    let shown: String = try await pool.transaction(isolation: level) { transaction in
                        try await transaction.query("SHOW transaction_isolation").single().decode("transaction_isolation")
                    }
                    #expect(shown.uppercased() == level.rawValue)
                }
                let readOnly = try await #require(throws: PostgresError.self) {
                    try await pool.transaction(readOnly: true) { transaction in
                        try await transaction.execute("CREATE TABLE nope (id int)")
                    }
                }
                #expect(readOnly.sqlState == "25006")
            }
        }
    }

    @Test func aSerializationFailureSurfacesAsItsOwnKind() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool(maxConnections: 2, transactionRetries: 0) { pool in
                try await pool.execute("CREATE TABLE counters (id int PRIMARY KEY, value int)")
                try await pool.execute("INSERT INTO counters VALUES (1, 0)")
                let failure = try await #require(throws: PostgresError.self) {
                    try await pool.transaction(isolation: .serializable) { first in
                        _ = try await first.query("SELECT value FROM counters WHERE id = 1")
                        // A second transaction commits a change to the row the first has read.
                        try await pool.transaction(isolation: .serializable) { second in
                            try await second.execute("UPDATE counters SET value = value + 1 WHERE id = 1")
                        }
                        try await first.execute("UPDATE counters SET value = value + 10 WHERE id = 1")
                    }
                }
                #expect(failure.kind == .serializationFailure)
                #expect(failure.sqlState == "40001")
                let value: Int = try await pool.query("SELECT value FROM counters").single().decode("value")
                #expect(value == 1)
            }
        }
    }

    @Test func aConnectionIsReusableAfterARolledBackTransaction() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool(maxConnections: 1) { pool in
                _ = try? await pool.transaction { transaction in
                    _ = try await transaction.query("SELECT 1/0")
                }
                let one: Int = try await pool.query("SELECT 1 AS one").single().decode("one")
                #expect(one == 1)
                #expect(pool.usage.lent == 0 && pool.usage.idle == 1)
            }
        }
    }
}
