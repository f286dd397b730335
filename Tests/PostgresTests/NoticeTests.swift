import Logging
import Postgres
import TestSupport
import Testing

@Suite("Server notices reach swift-log")
struct NoticeTests {
    @Test func noticesAndWarningsAreLoggedWithTheirSQLState() async throws {
        try await TestPostgres.shared.withDatabase { database in
            let log = CapturedLog()
            let pool = PostgresPool(
                configuration: .init(connectionString: database.serverConnectionString, databaseName: database.name),
                logger: log.logger(label: "notice-test")
            )
            try await pool.execute("DO $$ BEGIN RAISE NOTICE 'hello %', 42; RAISE WARNING 'careful' USING ERRCODE = '01000'; END $$")
            await pool.close()
            let entries = log.all
            let notice = try #require(entries.first { $0.message == "hello 42" })
            #expect(notice.level == .info)
            #expect(notice.metadata["postgres.severity"] == "NOTICE")
            let warning = try #require(entries.first { $0.message == "careful" })
            #expect(warning.level == .warning)
            #expect(warning.metadata["postgres.sqlstate"] == "01000")
        }
    }
}
