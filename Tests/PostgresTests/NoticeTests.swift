import Logging
import Postgres
import Synchronization
import TestSupport
import Testing

@Suite("Server notices reach swift-log")
struct NoticeTests {
    /// Keeps every log message it is handed, for the test to read.
    final class Recorder: LogHandler, @unchecked Sendable {
        let messages = Mutex<[(Logger.Level, String, Logger.Metadata?)]>([])
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            messages.withLock { $0.append((event.level, "\(event.message)", event.metadata)) }
        }
    }

    @Test func noticesAndWarningsAreLoggedWithTheirSQLState() async throws {
        try await TestPostgres.shared.withDatabase { database in
            let recorder = Recorder()
            let logger = Logger(label: "notice-test") { _ in recorder }
            let pool = PostgresPool(
                configuration: .init(connectionString: database.serverConnectionString, databaseName: database.name),
                logger: logger
            )
            try await pool.execute("DO $$ BEGIN RAISE NOTICE 'hello %', 42; RAISE WARNING 'careful' USING ERRCODE = '01000'; END $$")
            await pool.close()
            let messages = recorder.messages.withLock { $0 }
            let notice = try #require(messages.first { $0.1 == "hello 42" })
            #expect(notice.0 == .info)
            #expect(notice.2?["postgres.severity"] == "NOTICE")
            let warning = try #require(messages.first { $0.1 == "careful" })
            #expect(warning.0 == .warning)
            #expect(warning.2?["postgres.sqlstate"] == "01000")
        }
    }
}
