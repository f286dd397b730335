import Foundation
import Postgres

/// Staff members and their API keys: the SQL and the rules, side by side.
public struct StaffDirectory: Sendable {
    let database: PostgresPool
    let keys: KeyCache

    /// Without a cache of its own, every authentication asks the database.
    public init(database: PostgresPool, keyCache: KeyCache = KeyCache(lifetime: .zero)) {
        self.database = database
        self.keys = keyCache
    }

    static let staffColumns = """
        id, name, email, role, active, revision, created_at, updated_at,
        (extract(epoch FROM created_at) * 1000000)::bigint AS created_at_us
        """

    static func member(from row: Row) throws -> StaffMember {
        StaffMember(
            id: try row.decode("id"),
            name: try row.decode("name"),
            email: try row.decode("email"),
            role: try row.decode("role", as: StaffRole.self),
            active: try row.decode("active"),
            revision: try row.decode("revision"),
            createdAt: try row.decode("created_at"),
            updatedAt: try row.decode("updated_at")
        )
    }

    // MARK: Authentication

    /// The active staff member whose unrevoked key this is, or nil. The lookup is by the key's
    /// SHA-256, so the comparison never touches the secret itself.
    public func authenticate(key: String) async throws -> AuthenticatedStaff? {
        guard key.hasPrefix(APIKeySecret.scheme), key.utf8.count <= 100 else { return nil }
        let hash = Secret.hash(key)
        if let known = keys.staff(forKeyHash: hash) { return known }
        let rows = try await database.query(
            """
            SELECT k.id AS key_id, k.key_hash, k.last_used_at < now() - interval '1 minute' OR k.last_used_at IS NULL AS stale_use,
                   s.id, s.name, s.email, s.role, s.active, s.revision, s.created_at, s.updated_at,
                   (extract(epoch FROM s.created_at) * 1000000)::bigint AS created_at_us
            FROM api_keys k JOIN staff s ON s.id = k.staff_id
            WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND s.active
            """,
            [hash]
        )
        guard let row = rows.first else { return nil }
        let stored: [UInt8] = try row.decode("key_hash")
        guard Secret.constantTimeEqual(stored, hash) else { return nil }
        let keyID: UUID = try row.decode("key_id")
        // Recording every use would turn each read into a write; once a minute is enough to tell
        // whether a key is still in use.
        if try row.decode("stale_use", as: Bool.self) {
            try await database.execute("UPDATE api_keys SET last_used_at = now() WHERE id = $1", [keyID])
        }
        let staff = AuthenticatedStaff(member: try Self.member(from: row), keyID: keyID)
        keys.remember(staff, forKeyHash: hash)
        return staff
    }

    // MARK: Staff members

    public struct NewStaffMember: Sendable {
        public var name: String
        public var email: String?
        public var role: StaffRole

        public init(name: String, email: String?, role: StaffRole) {
            self.name = name
            self.email = email
            self.role = role
        }
    }

    public func create(_ new: NewStaffMember, by actor: UUID?) async throws -> StaffMember {
        do {
            let row = try await database.query(
                """
                INSERT INTO staff (name, email, role, created_by, updated_by) VALUES ($1, $2, $3, $4, $4)
                RETURNING \(Self.staffColumns)
                """,
                [new.name, new.email, new.role.rawValue, actor]
            ).single()
            return try Self.member(from: row)
        } catch let error as PostgresError where error.kind == .uniqueViolation {
            throw DomainError.duplicate(field: "email")
        }
    }

    public func member(id: UUID) async throws -> StaffMember {
        let rows = try await database.query("SELECT \(Self.staffColumns) FROM staff WHERE id = $1", [id])
        guard let row = rows.first else { throw DomainError.notFound(resource: "staff member") }
        return try Self.member(from: row)
    }

    public func members(after cursor: Cursor?, limit: Int, role: StaffRole?, active: Bool?) async throws -> Page<StaffMember> {
        let rows = try await database.query(
            """
            SELECT \(Self.staffColumns) FROM staff
            WHERE \(Cursor.afterParameters1And2)
              AND ($3::text IS NULL OR role = $3)
              AND ($4::boolean IS NULL OR active = $4)
            ORDER BY created_at, id
            LIMIT $5
            """,
            [cursor?.createdAtMicroseconds, cursor?.id, role?.rawValue, active, limit + 1]
        )
        return try Page.keyset(rows, limit: limit, Self.member(from:))
    }

    public struct StaffChanges: Sendable {
        public var name: String?
        public var email: String??
        public var role: StaffRole?
        public var active: Bool?

        public init(name: String? = nil, email: String?? = nil, role: StaffRole? = nil, active: Bool? = nil) {
            self.name = name
            self.email = email
            self.role = role
            self.active = active
        }
    }

    /// Applies the fields that were sent; refuses when `expectedRevision` is stale, and when the
    /// change would leave no active admin (nobody could manage staff or keys any more).
    public func update(id: UUID, _ changes: StaffChanges, expectedRevision: Int64?, by actor: UUID) async throws -> StaffMember {
        // Emptied once the change is committed: a request in between would cache the old state.
        defer { keys.removeAll() }
        return try await database.transaction { transaction in
            if changes.role != nil || changes.active != nil {
                // Two admins demoting each other at once must not both see the other still there:
                // whoever changes a role or the active flag first locks every active admin, in one
                // order, so such changes take turns and each sees the last one's result.
                try await transaction.execute("SELECT id FROM staff WHERE role = 'admin' AND active ORDER BY id FOR UPDATE")
            }
            _ = try await transaction.lockRow("staff", id: id, resource: "staff member", expectedRevision: expectedRevision)
            let row: Row
            do {
                row = try await transaction.query(
                    """
                    UPDATE staff SET
                        name = CASE WHEN $2 THEN $3 ELSE name END,
                        email = CASE WHEN $4 THEN $5 ELSE email END,
                        role = CASE WHEN $6 THEN $7 ELSE role END,
                        active = CASE WHEN $8 THEN $9::boolean ELSE active END,
                        updated_by = $10
                    WHERE id = $1
                    RETURNING \(Self.staffColumns)
                    """,
                    [
                        id,
                        changes.name != nil, changes.name,
                        changes.email != nil, changes.email ?? nil,
                        changes.role != nil, changes.role?.rawValue,
                        changes.active != nil, changes.active,
                        actor,
                    ]
                ).single()
            } catch let error as PostgresError where error.kind == .uniqueViolation {
                throw DomainError.duplicate(field: "email")
            }
            let admins: Int = try await transaction.query(
                "SELECT count(*) AS n FROM staff WHERE role = 'admin' AND active"
            ).single().decode("n")
            if admins == 0 {
                throw DomainError.conflict("this change would leave no active admin")
            }
            if changes.active == false {
                // A deactivated member's keys end with their access: reactivating them gives no key back.
                try await transaction.execute(
                    "UPDATE api_keys SET revoked_at = now(), revoked_by = $2 WHERE staff_id = $1 AND revoked_at IS NULL", [id, actor]
                )
            }
            return try Self.member(from: row)
        }
    }

    // MARK: API keys

    static let keyColumns = """
        id, staff_id, name, prefix, created_at, last_used_at, revoked_at,
        (extract(epoch FROM created_at) * 1000000)::bigint AS created_at_us
        """

    static func key(from row: Row) throws -> APIKeyRecord {
        APIKeyRecord(
            id: try row.decode("id"),
            staffID: try row.decode("staff_id"),
            name: try row.decode("name"),
            prefix: try row.decode("prefix"),
            createdAt: try row.decode("created_at"),
            lastUsedAt: try row.decode("last_used_at"),
            revokedAt: try row.decode("revoked_at")
        )
    }

    /// Issues a key for an active staff member; the secret is in the result and nowhere else.
    public func issueKey(staffID: UUID, name: String, by actor: UUID?) async throws -> (APIKeyRecord, APIKeySecret) {
        let secret = APIKeySecret.generate()
        let rows = try await database.query(
            """
            INSERT INTO api_keys (staff_id, name, prefix, key_hash, created_by)
            SELECT id, $2, $3, $4, $5 FROM staff WHERE id = $1 AND active
            RETURNING \(Self.keyColumns)
            """,
            [staffID, name, secret.prefix, secret.hash, actor]
        )
        guard let row = rows.first else {
            throw DomainError.invalid([FieldError(field: "staff_id", message: "no active staff member has this id")])
        }
        return (try Self.key(from: row), secret)
    }

    public func keys(after cursor: Cursor?, limit: Int, staffID: UUID?) async throws -> Page<APIKeyRecord> {
        let rows = try await database.query(
            """
            SELECT \(Self.keyColumns) FROM api_keys
            WHERE \(Cursor.afterParameters1And2)
              AND ($3::uuid IS NULL OR staff_id = $3)
            ORDER BY created_at, id
            LIMIT $4
            """,
            [cursor?.createdAtMicroseconds, cursor?.id, staffID, limit + 1]
        )
        return try Page.keyset(rows, limit: limit, Self.key(from:))
    }

    /// One key (never its secret).
    public func key(id: UUID) async throws -> APIKeyRecord {
        let rows = try await database.query("SELECT \(Self.keyColumns) FROM api_keys WHERE id = $1", [id])
        guard let row = rows.first else { throw DomainError.notFound(resource: "API key") }
        return try Self.key(from: row)
    }

    /// Revokes a key; revoking a revoked key changes nothing.
    public func revokeKey(id: UUID, by actor: UUID) async throws {
        let rows = try await database.query(
            """
            UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()), revoked_by = coalesce(revoked_by, $2)
            WHERE id = $1 RETURNING id
            """,
            [id, actor]
        )
        guard !rows.isEmpty else { throw DomainError.notFound(resource: "API key") }
        keys.removeAll()
    }

    /// For the CLI's first key: the staff member with this name, created with `role` if none exists.
    public func bootstrapKey(staffName: String, email: String?, role: StaffRole, keyName: String) async throws -> APIKeySecret {
        let existing = try await database.query(
            "SELECT id FROM staff WHERE name = $1 AND active ORDER BY created_at LIMIT 1",
            [staffName]
        )
        let staffID: UUID
        if let row = existing.first {
            staffID = try row.decode("id")
        } else {
            staffID = try await create(NewStaffMember(name: staffName, email: email, role: role), by: nil).id
        }
        return try await issueKey(staffID: staffID, name: keyName, by: nil).1
    }
}
