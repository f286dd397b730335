import Postgres
import TestSupport
import Testing

@Suite("Server errors arrive with their SQLSTATE, message and detail")
struct ErrorMappingTests {
    @Test func constraintViolationsMapToTheirKinds() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool { pool in
                try await pool.execute(
                    """
                    CREATE TABLE parents (id int PRIMARY KEY, email text UNIQUE, age int CHECK (age >= 0), name text NOT NULL DEFAULT 'x');
                    """
                )
                try await pool.execute("CREATE TABLE children (parent_id int REFERENCES parents (id))")
                try await pool.execute("INSERT INTO parents (id, email) VALUES (1, 'a@example.org')")

                let unique = try await #require(throws: PostgresError.self) {
                    try await pool.execute("INSERT INTO parents (id, email) VALUES (2, $1)", ["a@example.org"])
                }
                #expect(unique.kind == .uniqueViolation)
                #expect(unique.sqlState == "23505")
                #expect(unique.constraint == "parents_email_key")
                #expect(unique.detail?.contains("a@example.org") == true)

                let foreignKey = try await #require(throws: PostgresError.self) {
                    try await pool.execute("INSERT INTO children VALUES ($1)", [99])
                }
                #expect(foreignKey.kind == .foreignKeyViolation)
                #expect(foreignKey.table == "children")

                let check = try await #require(throws: PostgresError.self) {
                    try await pool.execute("INSERT INTO parents (id, age) VALUES (3, $1)", [-1])
                }
                #expect(check.kind == .checkViolation)

                let notNull = try await #require(throws: PostgresError.self) {
                    try await pool.execute("INSERT INTO parents (id, name) VALUES (4, NULL)")
                }
                #expect(notNull.kind == .notNullViolation)
                #expect(notNull.column == "name")
            }
        }
    }

    @Test func syntaxErrorsCarryTheirSQLStateAndAreNotConnectionErrors() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool { pool in
                let error = try await #require(throws: PostgresError.self) { try await pool.query("SELEC 1") }
                #expect(error.sqlState == "42601")
                #expect(error.kind == .other)
                #expect(error.message.contains("syntax error"))
                let raised = try await #require(throws: PostgresError.self) {
                    try await pool.execute(
                        "DO $$ BEGIN RAISE EXCEPTION 'custom failure' USING DETAIL = 'more', HINT = 'try again', ERRCODE = 'P0001'; END $$"
                    )
                }
                #expect(raised.sqlState == "P0001")
                #expect(raised.message == "custom failure")
                #expect(raised.detail == "more")
                #expect(raised.hint == "try again")
            }
        }
    }

    @Test func aFailedConnectionSaysWhy() async throws {
        let pool = PostgresPool(
            configuration: .init(connectionString: "host=/nonexistent-socket-dir port=5432 dbname=x connect_timeout=2"),
            logger: TestPostgres.logger
        )
        let error = try await #require(throws: PostgresError.self) { try await pool.query("SELECT 1") }
        #expect(error.kind == .connection)
        #expect(error.message.contains("/nonexistent-socket-dir"))
        await pool.close()
    }
}
