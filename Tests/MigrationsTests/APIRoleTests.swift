import Foundation
import Migrations
import Postgres
import TestSupport
import Testing

@Suite("The API's role owns nothing and may do exactly what api_privileges lists")
struct APIRoleTests {
    @Test func everyTableStatesWhatTheAPIMayDoWithIt() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool { pool in
                let missing = try await pool.query(
                    """
                    SELECT t.table_name AS name FROM information_schema.tables t
                    WHERE t.table_schema = 'public' AND t.table_type = 'BASE TABLE'
                      AND NOT EXISTS (SELECT 1 FROM api_privileges p WHERE p.table_name = t.table_name)
                    ORDER BY 1
                    """
                ).map { try $0.decode("name", as: String.self) }
                #expect(missing == [], "say in api_privileges what the API may do with these tables")
                let stale = try await pool.query(
                    "SELECT table_name AS name FROM api_privileges WHERE to_regclass(quote_ident(table_name)) IS NULL ORDER BY 1"
                ).map { try $0.decode("name", as: String.self) }
                #expect(stale == [], "these rows name tables that do not exist")
            }
        }
    }

    @Test func theGrantsAreExactlyTheListedOnes() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool { pool in
                let mismatches = try await pool.query(
                    """
                    SELECT p.table_name || ' ' || privilege AS name
                    FROM api_privileges p
                    CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) AS privilege
                    WHERE has_table_privilege($1, quote_ident(p.table_name), privilege) <> (privilege = ANY(p.privileges))
                    ORDER BY 1
                    """,
                    [TestRole.apiRoleName]
                ).map { try $0.decode("name", as: String.self) }
                #expect(mismatches == [])
                let row = try await pool.query(
                    """
                    SELECT has_schema_privilege($1, 'public', 'CREATE') AS can_create,
                           EXISTS (SELECT 1 FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = $1) AS owns
                    """,
                    [TestRole.apiRoleName]
                ).single()
                #expect(try row.decode("can_create", as: Bool.self) == false)
                #expect(try row.decode("owns", as: Bool.self) == false)
            }
        }
    }

    @Test func grantsFollowAChangedListOnTheNextMigrate() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool(role: .owner, limits: .unlimited) { owner in
                try await owner.execute("UPDATE api_privileges SET privileges = '{SELECT}' WHERE table_name = 'leads'")
                let files = try MigrationSource.load(from: TestPostgres.migrationsDirectory)
                try await Migrator(pool: owner, files: files, logger: TestPostgres.logger, apiRole: try APIRole(TestRole.apiRoleName))
                    .migrate()
                let canInsert: Bool = try await owner.query(
                    "SELECT has_table_privilege($1, 'leads', 'INSERT') AS allowed", [TestRole.apiRoleName]
                ).single().decode("allowed")
                #expect(canInsert == false)
            }
        }
    }

    @Test func theOwnerCannotBeTheAPIRole() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool(role: .owner, limits: .unlimited) { owner in
                let files = try MigrationSource.load(from: TestPostgres.migrationsDirectory)
                let ownerName = try #require(TestRole.owner.name)
                let error = try await #require(throws: MigrationError.self) {
                    try await Migrator(pool: owner, files: files, logger: TestPostgres.logger, apiRole: try APIRole(ownerName)).migrate()
                }
                #expect("\(error)".contains("is the role running the migrations"))
            }
            try await database.withPool(role: .owner) { owner in
                let error = try await #require(throws: MigrationError.self) { try await APIRole.requireUnprivileged(owner) }
                #expect("\(error)".contains("owns the schema"))
            }
            try await database.withPool(role: .api) { api in
                try await APIRole.requireUnprivileged(api)
            }
        }
    }

    @Test func migrateTakesTemporaryTablesAwayAndServeRefusesARoleThatHasThem() async throws {
        try await TestPostgres.shared.withDatabase { database in
            // As on a database made before this check: PUBLIC may create temporary tables (and so
            // shadow a table a guard reads) until `migrate` runs.
            try await database.withPool { superuser in
                try await superuser.execute("GRANT TEMPORARY, CREATE ON DATABASE \"\(database.name)\" TO PUBLIC")
            }
            try await database.withPool(role: .api) { api in
                let error = try await #require(throws: MigrationError.self) { try await APIRole.requireUnprivileged(api) }
                #expect("\(error)".contains("may create temporary tables"))
                #expect("\(error)".contains("may create schemas"))
            }
            try await database.withPool(role: .owner, limits: .unlimited) { owner in
                let files = try MigrationSource.load(from: TestPostgres.migrationsDirectory)
                try await Migrator(pool: owner, files: files, logger: TestPostgres.logger, apiRole: try APIRole(TestRole.apiRoleName))
                    .migrate()
            }
            try await database.withPool(role: .api) { api in
                try await APIRole.requireUnprivileged(api)
                let error = try await #require(throws: PostgresError.self) {
                    try await api.execute("CREATE TEMP TABLE erasure_tombstones (subject_id uuid)")
                }
                #expect(error.sqlState == "42501")
            }
        }
    }

    @Test func serveRefusesARoleThatCanCreateRolesOrDatabasesOrActsAsTheOwner() async throws {
        try await TestPostgres.shared.withDatabase { database in
            let owner = try #require(TestRole.owner.name)
            // Roles of this test's own: roles belong to the whole server, which other tests share.
            let suffix = UUID().uuidString.prefix(8).lowercased()
            for (attribute, expected) in [
                ("CREATEROLE", "has CREATEROLE"), ("CREATEDB", "has CREATEDB"), ("IN ROLE \(owner)", "member of their owner"),
            ] {
                let name = "custodian_test_unfit_\(suffix)_\(expected.count)"
                try await database.withPool { superuser in
                    try await superuser.execute("CREATE ROLE \(name) LOGIN \(attribute)")
                }
                do {
                    let pool = PostgresPool(
                        configuration: .init(
                            connectionString: database.serverConnectionString, databaseName: database.name, user: name, maxConnections: 1),
                        logger: TestPostgres.logger)
                    let error = await #expect(throws: MigrationError.self) { try await APIRole.requireUnprivileged(pool) }
                    #expect(error.map { "\($0)".contains(expected) } == true, "\(attribute): \(error.map { "\($0)" } ?? "")")
                    await pool.close()
                }
                try await database.withPool { superuser in try await superuser.execute("DROP ROLE \(name)") }
            }
        }
    }

    @Test func roleNamesAreIdentifiersOnly() throws {
        for name in ["custodian_api", "_x", "api2"] { _ = try APIRole(name) }
        for name in ["", "Custodian", "api-role", "x\"; DROP ROLE postgres; --", "2api", String(repeating: "a", count: 64)] {
            #expect(throws: MigrationError.self) { try APIRole(name) }
        }
    }
}
