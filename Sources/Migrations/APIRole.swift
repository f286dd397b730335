import Postgres

/// The PostgreSQL role the API connects as. It owns nothing: migrations (run as the owner) grant
/// it what `api_privileges` lists, so the database's own promises (an append-only consent
/// history, one primary contact) hold against the API too.
public struct APIRole: Sendable, Equatable {
    public let name: String

    /// Role names reach DDL text, so only plain lower-case identifiers are accepted.
    public init(_ name: String) throws(MigrationError) {
        guard let first = name.utf8.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first) || first == UInt8(ascii: "_"),
            name.utf8.count <= 63,
            name.utf8.allSatisfy({
                ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
                    || $0 == UInt8(ascii: "_")
            })
        else { throw .apiRole("the API role name \(name) must be a lower-case identifier (a-z, 0-9, _)") }
        self.name = name
    }

    public static let defaultName = "custodian_api"

    /// Makes sure the role exists (creating it, able to log in, when the migrating role may create
    /// roles), is not the migrating role, is no superuser and owns nothing; then grants it exactly
    /// what `api_privileges` lists. Run after the migrations, as their owner.
    func grantPrivileges(on session: PostgresSession) async throws {
        let rows = try await session.query(
            """
            SELECT r.rolname = current_user AS is_current, r.rolsuper OR r.rolbypassrls AS is_privileged,
                   EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                           WHERE n.nspname = 'public' AND c.relowner = r.oid) AS owns_tables
            FROM pg_roles r WHERE r.rolname = $1
            """,
            [name]
        )
        if let row = rows.first {
            if try row.decode("is_current", as: Bool.self) {
                throw MigrationError.apiRole(
                    "the API role \(name) is the role running the migrations: the API must connect as a role of its own "
                        + "(DATABASE_URL) and migrations as the owner (CUSTODIAN_MIGRATE_DATABASE_URL)"
                )
            }
            if try row.decode("is_privileged", as: Bool.self) {
                throw MigrationError.apiRole("the API role \(name) is a superuser or bypasses row security: give the API a plain role")
            }
            if try row.decode("owns_tables", as: Bool.self) {
                throw MigrationError.apiRole("the API role \(name) owns tables: the API's role must own nothing")
            }
        } else {
            do {
                // Without a password it can log in only where pg_hba.conf trusts it (local sockets).
                try await session.executeScript("CREATE ROLE \(name) LOGIN")
            } catch let error as PostgresError where error.sqlState == "42501" {
                throw MigrationError.apiRole(
                    "the API role \(name) does not exist and this role may not create roles: "
                        + "create it (CREATE ROLE \(name) LOGIN PASSWORD '...') and run migrate again"
                )
            } catch let error as PostgresError where error.sqlState == "42710" || error.kind == .uniqueViolation {
                // Another runner created it a moment ago.
            }
        }
        _ = try await session.query("SELECT custodian_grant_api_privileges($1)", [name])
    }
}

extension APIRole {
    /// Refuses a pool whose role could undo or sidestep what the database promises: a superuser or
    /// a role that bypasses row security; one that owns tables, the schema or the database, or is a
    /// member of their owner (and so could disable triggers); one that may create roles or databases;
    /// and one that may create temporary tables, schemas or objects in `public` (a table of its own
    /// named like one a guard reads). `serve` checks its own connection with this before it listens.
    public static func requireUnprivileged(_ pool: PostgresPool) async throws {
        let row = try await pool.query(
            """
            SELECT current_user AS name,
                   r.rolsuper OR r.rolbypassrls AS is_privileged,
                   r.rolcreaterole AS creates_roles,
                   r.rolcreatedb AS creates_databases,
                   EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                           WHERE n.nspname = 'public' AND pg_catalog.pg_has_role(c.relowner, 'MEMBER')) AS owns_tables,
                   pg_catalog.pg_has_role(d.datdba, 'MEMBER') AS owns_database,
                   pg_catalog.pg_has_role(n.nspowner, 'MEMBER') AS owns_schema,
                   pg_catalog.has_database_privilege(d.oid, 'TEMPORARY') AS creates_temporary_tables,
                   pg_catalog.has_database_privilege(d.oid, 'CREATE') AS creates_schemas,
                   pg_catalog.has_schema_privilege(n.oid, 'CREATE') AS creates_in_schema
            FROM pg_catalog.pg_roles r, pg_catalog.pg_database d, pg_catalog.pg_namespace n
            WHERE r.rolname = current_user AND d.datname = current_database() AND n.nspname = 'public'
            """
        ).single()
        let name: String = try row.decode("name")
        let reasons: [(column: String, reason: String)] = [
            ("is_privileged", "is a superuser or bypasses row security"),
            ("owns_tables", "owns tables (or is a member of their owner)"),
            ("owns_schema", "owns the schema public (or is a member of its owner)"),
            ("owns_database", "owns the database (or is a member of its owner)"),
            ("creates_roles", "has CREATEROLE"),
            ("creates_databases", "has CREATEDB"),
            ("creates_temporary_tables", "may create temporary tables (TEMPORARY on the database)"),
            ("creates_schemas", "may create schemas (CREATE on the database)"),
            ("creates_in_schema", "may create objects in the schema public"),
        ]
        let found = try reasons.filter { try row.decode($0.column, as: Bool.self) }.map(\.reason)
        guard found.isEmpty else {
            throw MigrationError.apiRole(
                "the API connects as \(name), which \(found.joined(separator: "; ")), so the database could not protect the "
                    + "consent history against it: point DATABASE_URL at the API's own role (CUSTODIAN_API_ROLE, created and "
                    + "granted by `custodian migrate`, which also revokes TEMPORARY and CREATE from PUBLIC) and "
                    + "CUSTODIAN_MIGRATE_DATABASE_URL at the owner"
            )
        }
    }
}
