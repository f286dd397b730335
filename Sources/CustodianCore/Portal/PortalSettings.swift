import Foundation
import Postgres

/// Whether the customer area is open, whether contacts may register themselves, which policies a
/// registration accepts (and a login after a new version accepts again), and the session and
/// lockout rules.
public struct PortalSettings: Sendable {
    public struct Values: Sendable {
        public var enabled: Bool
        public var registrationEnabled: Bool
        public var requiresTerms: Bool
        public var requiresPrivacy: Bool
        public var sessionHours: Int
        public var maxFailedLogins: Int
        public var lockoutMinutes: Int
        public var revision: Int64
        public var updatedAt: Date

        /// The documents a contact must have accepted, in their version in effect.
        public var requiredPolicies: [Policies.Kind] {
            [requiresTerms ? .terms : nil, requiresPrivacy ? .privacy : nil].compactMap { $0 }
        }
    }

    /// The changes an admin sends; nil leaves a value as it is.
    public struct Changes: Sendable {
        public var enabled: Bool?
        public var registrationEnabled: Bool?
        public var requiresTerms: Bool?
        public var requiresPrivacy: Bool?
        public var sessionHours: Int?
        public var maxFailedLogins: Int?
        public var lockoutMinutes: Int?

        public init() {}
    }

    let database: PostgresPool

    public init(database: PostgresPool) { self.database = database }

    static let columns = """
        enabled, registration_enabled, registration_requires_terms, registration_requires_privacy, session_hours,
        max_failed_logins, lockout_minutes, revision, updated_at
        """

    static func values(from row: Row) throws -> Values {
        Values(
            enabled: try row.decode("enabled"), registrationEnabled: try row.decode("registration_enabled"),
            requiresTerms: try row.decode("registration_requires_terms"),
            requiresPrivacy: try row.decode("registration_requires_privacy"), sessionHours: try row.decode("session_hours"),
            maxFailedLogins: try row.decode("max_failed_logins"), lockoutMinutes: try row.decode("lockout_minutes"),
            revision: try row.decode("revision"), updatedAt: try row.decode("updated_at"))
    }

    static let settings = SettingsTable(table: "portal_settings", columns: columns, values: values(from:))

    static func current(on session: some Queryable) async throws -> Values { try await settings.current(on: session) }

    public func current() async throws -> Values { try await Self.current(on: database) }

    public func update(_ changes: Changes, expectedRevision: Int64?, by actor: UUID) async throws -> Values {
        try await database.transaction { transaction in
            let current = try await Self.settings.lock(expectedRevision: expectedRevision, in: transaction)
            let row = try await transaction.query(
                """
                UPDATE portal_settings SET enabled = $1, registration_enabled = $2, registration_requires_terms = $3,
                    registration_requires_privacy = $4, session_hours = $5, max_failed_logins = $6, lockout_minutes = $7,
                    updated_by = $8
                RETURNING \(Self.columns)
                """,
                [
                    changes.enabled ?? current.enabled, changes.registrationEnabled ?? current.registrationEnabled,
                    changes.requiresTerms ?? current.requiresTerms, changes.requiresPrivacy ?? current.requiresPrivacy,
                    changes.sessionHours ?? current.sessionHours, changes.maxFailedLogins ?? current.maxFailedLogins,
                    changes.lockoutMinutes ?? current.lockoutMinutes, actor,
                ]
            ).single()
            return try Self.values(from: row)
        }
    }
}
