import Foundation
import Postgres

/// Purposes people consent to. Their texts are versioned: an edit adds a version and keeps the
/// old ones, because each consent record names the exact text the person saw. A purpose with
/// consent records is retired, never deleted.
public struct ConsentPurposes: Sendable {
    public enum LawfulBasis: String, Sendable, CaseIterable {
        case consent, contract
        case legalObligation = "legal_obligation"
        case vitalInterests = "vital_interests"
        case publicTask = "public_task"
        case legitimateInterests = "legitimate_interests"
    }

    public enum AppliesTo: String, Sendable, CaseIterable {
        case leads, contacts, both

        func covers(_ subject: Person) -> Bool {
            switch (self, subject.kind) {
            case (.both, _), (.leads, .lead), (.contacts, .contact): true
            default: false
            }
        }
    }

    public struct Version: Sendable {
        public let version: Int
        public let name: String
        public let description: String
        public let lawfulBasis: LawfulBasis
        public let createdAt: Date
    }

    public struct Purpose: Sendable {
        public let id: UUID
        public let name: String
        public let description: String
        public let lawfulBasis: LawfulBasis
        public let appliesTo: AppliesTo
        public let active: Bool
        public let currentVersion: Int
        public let revision: Int64
        public let createdAt: Date
        public let updatedAt: Date
        /// Marketing addressed to the person: an objection to one such purpose is an objection to
        /// all of them, and absolute (GDPR Art. 21(2), (3)).
        public let directMarketing: Bool
        /// A consent given through a form or a link counts once the person confirms it by mail.
        public let doubleOptIn: Bool

        /// Whether the person may object to it (GDPR Art. 21(1), (2)).
        public var objectable: Bool { lawfulBasis == .legitimateInterests || directMarketing }
    }

    let database: PostgresPool

    public init(database: PostgresPool) { self.database = database }

    static let columns = """
        id, name, description, lawful_basis, applies_to, active, current_version, revision, created_at, updated_at,
        direct_marketing, double_opt_in, (extract(epoch FROM created_at) * 1000000)::bigint AS created_at_us
        """

    static func purpose(from row: Row) throws -> Purpose {
        Purpose(
            id: try row.decode("id"),
            name: try row.decode("name"),
            description: try row.decode("description"),
            lawfulBasis: try row.decode("lawful_basis", as: LawfulBasis.self),
            appliesTo: try row.decode("applies_to", as: AppliesTo.self),
            active: try row.decode("active"),
            currentVersion: try row.decode("current_version"),
            revision: try row.decode("revision"),
            createdAt: try row.decode("created_at"),
            updatedAt: try row.decode("updated_at"),
            directMarketing: try row.decode("direct_marketing"),
            doubleOptIn: try row.decode("double_opt_in")
        )
    }

    public func create(
        name: String, description: String, lawfulBasis: LawfulBasis, appliesTo: AppliesTo, directMarketing: Bool = false,
        doubleOptIn: Bool = false, by actor: UUID
    ) async throws -> Purpose {
        try await database.transaction { transaction in
            let purpose = try Self.purpose(
                from: try await transaction.query(
                    """
                    INSERT INTO consent_purposes
                        (name, description, lawful_basis, applies_to, direct_marketing, double_opt_in, created_by, updated_by)
                    VALUES ($1, $2, $3, $4, $6, $7, $5, $5) RETURNING \(Self.columns)
                    """,
                    [name, description, lawfulBasis.rawValue, appliesTo.rawValue, actor, directMarketing, doubleOptIn]
                ).single())
            try await transaction.execute(
                """
                INSERT INTO consent_purpose_versions (purpose_id, version, name, description, lawful_basis, created_by)
                VALUES ($1, 1, $2, $3, $4, $5)
                """,
                [purpose.id, name, description, lawfulBasis.rawValue, actor]
            )
            return purpose
        }
    }

    public func find(id: UUID) async throws -> Purpose {
        let rows = try await database.query("SELECT \(Self.columns) FROM consent_purposes WHERE id = $1", [id])
        guard let row = rows.first else { throw DomainError.notFound(resource: "consent purpose") }
        return try Self.purpose(from: row)
    }

    public func versions(of id: UUID) async throws -> [Version] {
        try await database.query(
            "SELECT version, name, description, lawful_basis, created_at FROM consent_purpose_versions WHERE purpose_id = $1 ORDER BY version",
            [id]
        ).map { row in
            Version(
                version: try row.decode("version"),
                name: try row.decode("name"),
                description: try row.decode("description"),
                lawfulBasis: try row.decode("lawful_basis", as: LawfulBasis.self),
                createdAt: try row.decode("created_at")
            )
        }
    }

    public func list(active: Bool?, appliesTo subject: Person.Kind?, after cursor: Cursor?, limit: Int) async throws -> Page<
        Purpose
    > {
        let rows = try await database.query(
            """
            SELECT \(Self.columns) FROM consent_purposes
            WHERE \(Cursor.afterParameters1And2)
              AND ($3::boolean IS NULL OR active = $3)
              AND ($4::text IS NULL OR applies_to IN ($4, 'both'))
            ORDER BY created_at, id
            LIMIT $5
            """,
            [cursor?.createdAtMicroseconds, cursor?.id, active, subject?.table, limit + 1]
        )
        return try Page.keyset(rows, limit: limit, Self.purpose(from:))
    }

    public struct Changes: Sendable {
        public var name: String?
        public var description: String?
        public var lawfulBasis: LawfulBasis?
        public var appliesTo: AppliesTo?
        public var active: Bool?
        public var directMarketing: Bool?
        public var doubleOptIn: Bool?

        public init() {}
    }

    /// A change of name, description or lawful basis becomes a new version; `active` retires or
    /// revives the purpose.
    public func update(id: UUID, _ changes: Changes, expectedRevision: Int64?, by actor: UUID) async throws -> Purpose {
        try await database.transaction { transaction in
            let current = try Self.purpose(
                from: try await transaction.lockRow(
                    "consent_purposes", id: id, selecting: Self.columns, resource: "consent purpose", expectedRevision: expectedRevision))
            let name = changes.name ?? current.name
            let description = changes.description ?? current.description
            let lawfulBasis = changes.lawfulBasis ?? current.lawfulBasis
            let newText = name != current.name || description != current.description || lawfulBasis != current.lawfulBasis
            let version = newText ? current.currentVersion + 1 : current.currentVersion
            if newText {
                try await transaction.execute(
                    """
                    INSERT INTO consent_purpose_versions (purpose_id, version, name, description, lawful_basis, created_by)
                    VALUES ($1, $2, $3, $4, $5, $6)
                    """,
                    [id, version, name, description, lawfulBasis.rawValue, actor]
                )
            }
            let updated = try await transaction.query(
                """
                UPDATE consent_purposes SET name = $2, description = $3, lawful_basis = $4, applies_to = $5,
                    active = $6, current_version = $7, updated_by = $8, direct_marketing = $9, double_opt_in = $10
                WHERE id = $1 RETURNING \(Self.columns)
                """,
                [
                    id, name, description, lawfulBasis.rawValue, (changes.appliesTo ?? current.appliesTo).rawValue,
                    changes.active ?? current.active, version, actor, changes.directMarketing ?? current.directMarketing,
                    changes.doubleOptIn ?? current.doubleOptIn,
                ]
            ).single()
            return try Self.purpose(from: updated)
        }
    }

    /// Only a purpose nobody ever consented to may be deleted; others are retired instead.
    public func delete(id: UUID, expectedRevision: Int64?) async throws {
        try await database.transaction { transaction in
            let row = try await transaction.lockRow(
                "consent_purposes", id: id,
                selecting: """
                    revision, EXISTS (SELECT 1 FROM consent_records WHERE purpose_id = consent_purposes.id) AS has_records,
                    EXISTS (SELECT 1 FROM processing_activities WHERE consent_purpose_id = consent_purposes.id) AS in_register
                    """,
                resource: "consent purpose", expectedRevision: expectedRevision)
            if try row.decode("has_records", as: Bool.self) {
                throw DomainError.conflict(
                    "this purpose has consent records, which must stay provable: retire it with active false instead")
            }
            if try row.decode("in_register", as: Bool.self) {
                throw DomainError.conflict(
                    "an activity of the register of processing is this purpose: link the activity elsewhere first, or retire the purpose")
            }
            try await transaction.execute("DELETE FROM consent_purpose_versions WHERE purpose_id = $1", [id])
            try await transaction.execute("DELETE FROM consent_purposes WHERE id = $1", [id])
        }
    }
}
