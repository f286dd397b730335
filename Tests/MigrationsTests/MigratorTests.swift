import Foundation
import Migrations
import Postgres
import TestSupport
import Testing

@Suite("Migrations apply in order, once, under a lock, and refuse edited history")
struct MigratorTests {
    private let first = MigrationFile(version: 1, name: "people", sql: "CREATE TABLE people (id int PRIMARY KEY);")
    private let second = MigrationFile(
        version: 2,
        name: "people_email",
        sql: "ALTER TABLE people ADD COLUMN email text;\nCREATE INDEX people_email ON people (email);"
    )

    private func tableNames(_ pool: PostgresPool) async throws -> [String] {
        try await pool.query(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        ).map { try $0.decode("tablename") }
    }

    @Test func aFreshDatabaseGetsEveryMigrationAndARerunIsANoOp() async throws {
        try await TestPostgres.shared.withEmptyDatabase { database in
            try await database.withPool { pool in
                let migrator = Migrator(pool: pool, files: [first, second], logger: TestPostgres.logger)
                #expect(try await migrator.status().pending == [first, second])
                #expect(try await migrator.migrate() == [first, second])
                #expect(try await tableNames(pool) == ["people", "schema_migrations"])

                let rows = try await pool.query("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
                #expect(try rows.map { try $0.decode("version", as: Int64.self) } == [1, 2])
                #expect(try rows.map { try $0.decode("checksum", as: String.self) } == [first.checksum, second.checksum])

                #expect(try await migrator.migrate() == [])
                let status = try await migrator.status()
                #expect(status.isCurrent)
                #expect(status.entries.allSatisfy { $0.applied != nil })
            }
        }
    }

    @Test func onlyPendingMigrationsRunLater() async throws {
        try await TestPostgres.shared.withEmptyDatabase { database in
            try await database.withPool { pool in
                try await Migrator(pool: pool, files: [first], logger: TestPostgres.logger).migrate()
                let applied = try await Migrator(pool: pool, files: [first, second], logger: TestPostgres.logger).migrate()
                #expect(applied == [second])
            }
        }
    }

    @Test func anEditedAppliedMigrationIsRefusedAndNothingRuns() async throws {
        try await TestPostgres.shared.withEmptyDatabase { database in
            try await database.withPool { pool in
                try await Migrator(pool: pool, files: [first], logger: TestPostgres.logger).migrate()
                let edited = MigrationFile(version: 1, name: "people", sql: "CREATE TABLE people (id bigint PRIMARY KEY);")
                let migrator = Migrator(pool: pool, files: [edited, second], logger: TestPostgres.logger)
                let error = try await #require(throws: MigrationError.self) { try await migrator.migrate() }
                guard case .checksumMismatch(let version, _, _, _) = error else {
                    Issue.record("expected a checksum mismatch, got \(error)")
                    return
                }
                #expect(version == 1)
                #expect(error.description.contains("never edited"))
                // The pending second migration did not run either.
                let hasEmail: Bool = try await pool.query(
                    "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'people' AND column_name = 'email') AS present"
                ).single().decode("present")
                #expect(!hasEmail)
                #expect(try await migrator.status().isCurrent == false)
            }
        }
    }

    @Test func aFailingMigrationIsRolledBackAndStopsTheRun() async throws {
        try await TestPostgres.shared.withEmptyDatabase { database in
            try await database.withPool { pool in
                let broken = MigrationFile(
                    version: 2,
                    name: "broken",
                    sql: "CREATE TABLE half_done (id int);\nALTER TABLE no_such_table ADD COLUMN x int;"
                )
                let third = MigrationFile(version: 3, name: "after", sql: "CREATE TABLE after_broken (id int);")
                let migrator = Migrator(pool: pool, files: [first, broken, third], logger: TestPostgres.logger)
                let error = try await #require(throws: MigrationError.self) { try await migrator.migrate() }
                guard case .failed(let version, _, let reason) = error else {
                    Issue.record("expected a failed migration, got \(error)")
                    return
                }
                #expect(version == 2)
                #expect(reason.contains("no_such_table"))
                #expect(try await tableNames(pool) == ["people", "schema_migrations"])
                #expect(try await migrator.status().pending.map(\.version) == [2, 3])
            }
        }
    }

    @Test func twoRunnersAtOnceApplyEachMigrationOnce() async throws {
        try await TestPostgres.shared.withEmptyDatabase { database in
            // A slow migration holds the lock long enough for the second runner to queue behind it.
            let slow = MigrationFile(version: 3, name: "slow", sql: "SELECT pg_sleep(0.5); CREATE TABLE slow_done (id int);")
            let files = [first, second, slow]
            try await database.withPool(maxConnections: 2) { firstPool in
                try await database.withPool(maxConnections: 2) { secondPool in
                    async let a = Migrator(pool: firstPool, files: files, logger: TestPostgres.logger).migrate()
                    async let b = Migrator(pool: secondPool, files: files, logger: TestPostgres.logger).migrate()
                    let (appliedByA, appliedByB) = try await (a, b)
                    #expect(appliedByA.count + appliedByB.count == 3)
                    #expect(appliedByA.isEmpty || appliedByB.isEmpty)
                    let recorded: Int = try await firstPool.query("SELECT count(*) AS n FROM schema_migrations").single().decode("n")
                    #expect(recorded == 3)
                }
            }
        }
    }

    @Test func appliedVersionsWithoutAFileAreReported() async throws {
        try await TestPostgres.shared.withEmptyDatabase { database in
            try await database.withPool { pool in
                try await Migrator(pool: pool, files: [first, second], logger: TestPostgres.logger).migrate()
                let status = try await Migrator(pool: pool, files: [first], logger: TestPostgres.logger).status()
                #expect(status.unknownApplied.map(\.version) == [2])
                #expect(status.pending.isEmpty)
            }
        }
    }
}

@Suite("Migration files are read from a directory by their numbered names")
struct MigrationSourceTests {
    private func directory(with files: [String: String]) throws -> URL {
        let url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("custodian-migrations-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        for (name, contents) in files {
            try contents.write(to: url.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return url
    }

    @Test func filesAreOrderedByNumberAndOtherFilesIgnored() throws {
        let url = try directory(with: [
            "0010_later.sql": "SELECT 10;",
            "0002_second.sql": "SELECT 2;",
            "0001_first.sql": "SELECT 1;",
            "README.md": "not a migration",
        ])
        defer { try? FileManager.default.removeItem(at: url) }
        let files = try MigrationSource.load(from: url)
        #expect(files.map(\.version) == [1, 2, 10])
        #expect(files.map(\.name) == ["first", "second", "later"])
        #expect(files[0].fileName == "0001_first.sql")
        #expect(files[0].checksum.count == 64)
    }

    @Test(arguments: ["first.sql", "0000_zero.sql", "0003_.sql", "x3_bad.sql"])
    func aBadlyNamedSQLFileIsAnError(name: String) throws {
        let url = try directory(with: [name: "SELECT 1;"])
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(throws: MigrationError.badFileName(name)) { try MigrationSource.load(from: url) }
    }

    @Test func twoFilesWithOneNumberAreAnError() throws {
        let url = try directory(with: ["0001_a.sql": "SELECT 1;", "1_b.sql": "SELECT 2;"])
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(throws: MigrationError.self) { try MigrationSource.load(from: url) }
    }

    @Test func theRepositoryMigrationsLoadAndApply() async throws {
        let files = try MigrationSource.load(from: TestPostgres.migrationsDirectory)
        #expect(!files.isEmpty)
        #expect(files.map(\.version) == Array(1...Int64(files.count)), "migrations are numbered 1, 2, 3, … without gaps")
    }
}
