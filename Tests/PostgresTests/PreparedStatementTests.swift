import Foundation
import Postgres
import TestSupport
import Testing

@Suite("Statements are prepared once per connection and stay right")
struct PreparedStatementTests {
    /// The statements this session has prepared, as the server lists them.
    static func prepared(_ session: PostgresSession) async throws -> [String] {
        try await session.query("SELECT statement FROM pg_prepared_statements ORDER BY prepare_time").map { try $0.decode("statement") }
    }

    @Test func aStatementRunTwiceIsPreparedOnceAndSurvivesARollback() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool(maxConnections: 1) { pool in
                try await pool.withConnection { session in
                    let sql = "SELECT $1::int + 1 AS next"
                    for n in 1...3 {
                        let next: Int = try await session.query(sql, [n]).single().decode("next")
                        #expect(next == n + 1)
                    }
                    #expect(try await Self.prepared(session).filter { $0 == sql }.count == 1)
                    // Prepared inside a transaction that is rolled back, it is still there and usable.
                    let inside = "SELECT $1::text || '!' AS shout"
                    await #expect(throws: PostgresError.self) {
                        try await session.transaction { transaction in
                            _ = try await transaction.query(inside, ["hey"])
                            _ = try await transaction.query("SELECT 1 / 0")
                        }
                    }
                    #expect(try await session.query(inside, ["hey"]).single().decode("shout", as: String.self) == "hey!")
                    #expect(try await Self.prepared(session).filter { $0 == inside }.count == 1)
                }
            }
        }
    }

    /// PostgreSQL settles a prepared statement on one generic plan after a few runs; a statement
    /// planned for its values is sent unnamed, so each run is parsed and planned with its values
    /// (the protocol's unnamed statement is replaced by the next) and nothing is prepared.
    @Test func aStatementPlannedForItsValuesIsNeverPrepared() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool(maxConnections: 1) { pool in
                try await pool.withConnection { session in
                    try await session.execute("CREATE TABLE skewed (id int PRIMARY KEY, kind int NOT NULL)")
                    try await session.execute("CREATE INDEX skewed_kind ON skewed (kind)")
                    try await session.execute(
                        "INSERT INTO skewed SELECT n, CASE WHEN n = 1 THEN 2 ELSE 1 END FROM generate_series(1, 5000) n")
                    try await session.execute("ANALYZE skewed")
                    let prepared = "SELECT count(*) AS n FROM skewed WHERE kind = $1"
                    let planned = "SELECT count(*) AS n FROM skewed s WHERE s.kind = $1"
                    for _ in 1...8 {
                        #expect(try await session.query(prepared, [1]).single().decode("n", as: Int.self) == 4999)
                        #expect(try await session.query(planned, [1], planning: .forItsValues).single().decode("n", as: Int.self) == 4999)
                    }
                    #expect(try await session.query(planned, [2], planning: .forItsValues).single().decode("n", as: Int.self) == 1)
                    let generic: Int = try await session.query(
                        "SELECT generic_plans AS n FROM pg_prepared_statements WHERE statement = $1", [prepared]
                    ).single().decode("n")
                    #expect(generic > 0, "the prepared statement settled on a generic plan")
                    #expect(try await Self.prepared(session).filter { $0 == planned }.isEmpty)
                }
            }
        }
    }

    @Test func aStatementThatFailsToParseIsNotRememberedAndAColumnAddedLaterIsSeen() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool(maxConnections: 1) { pool in
                try await pool.execute("CREATE TABLE things (id int PRIMARY KEY)")
                await #expect(throws: PostgresError.self) { try await pool.query("SELECT label FROM things") }
                try await pool.execute("ALTER TABLE things ADD COLUMN label text")
                try await pool.execute("INSERT INTO things VALUES (1, 'one')")
                #expect(try await pool.query("SELECT label FROM things").single().decode("label", as: String.self) == "one")
                // A table changed under a prepared statement is planned again.
                let read = "SELECT id, label FROM things WHERE id = $1"
                #expect(try await pool.query(read, [1]).count == 1)
                try await pool.execute("CREATE INDEX things_label ON things (label)")
                try await pool.execute("ALTER TABLE things ADD COLUMN extra int")
                #expect(try await pool.query(read, [1]).single().decode("label", as: String.self) == "one")
            }
        }
    }

    @Test func pastTheLimitEveryStatementIsForgottenAndPreparedAgain() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool(maxConnections: 1) { pool in
                try await pool.withConnection { session in
                    for n in 0..<505 {
                        let sum: Int = try await session.query("SELECT \(n) + $1::int AS n", [1]).single().decode("n")
                        #expect(sum == n + 1)
                    }
                    let count = try await Self.prepared(session).count
                    #expect(count >= 1 && count <= 500, "\(count) statements prepared")
                }
            }
        }
    }
}
