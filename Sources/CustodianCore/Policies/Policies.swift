import Foundation
import Postgres

/// Terms and privacy policy (GDPR Art. 13): each publication is a new, immutable version with a
/// text per language and the time it takes effect; every acceptance of a version is recorded.
public struct Policies: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case terms, privacy

        /// How messages name the document.
        public var title: String { self == .terms ? "terms" : "privacy policy" }
    }

    public enum Language: String, Sendable, CaseIterable {
        case de, en
    }

    public struct Text: Sendable {
        public let language: Language
        public let title: String
        public let body: String

        public init(language: Language, title: String, body: String) {
            self.language = language
            self.title = title
            self.body = body
        }
    }

    /// One version of a document in one language.
    public struct Version: Sendable {
        public let id: UUID
        public let kind: Kind
        public let version: Int
        public let language: Language
        public let title: String
        public let body: String
        public let effectiveAt: Date
        public let publishedAt: Date
        public let publishedBy: UUID?
    }

    let database: PostgresPool

    public init(database: PostgresPool) { self.database = database }

    static let versionColumns = """
        id, kind, version, language, title, body, effective_at, published_at, published_by,
        (extract(epoch FROM published_at) * 1000000)::bigint AS created_at_us
        """

    static func version(from row: Row) throws -> Version {
        Version(
            id: try row.decode("id"), kind: try row.decode("kind", as: Kind.self), version: try row.decode("version"),
            language: try row.decode("language", as: Language.self), title: try row.decode("title"),
            body: try row.decode("body"), effectiveAt: try row.decode("effective_at"), publishedAt: try row.decode("published_at"),
            publishedBy: try row.decode("published_by"))
    }

    /// Publishes the next version of `kind` with a text per language; it takes effect at
    /// `effectiveAt` (now when nil).
    public func publish(_ kind: Kind, texts: [Text], effectiveAt: Date?, by actor: UUID) async throws -> [Version] {
        try await database.transaction { transaction in
            // Two publications of one kind at once would both take the same number.
            try await transaction.execute("SELECT pg_advisory_xact_lock(hashtext('policy_versions:' || $1))", [kind.rawValue])
            let next: Int = try await transaction.query(
                "SELECT coalesce(max(version), 0) + 1 AS next FROM policy_versions WHERE kind = $1", [kind.rawValue]
            ).single().decode("next")
            var published: [Version] = []
            for text in texts {
                let row = try await transaction.query(
                    """
                    INSERT INTO policy_versions (kind, version, language, title, body, effective_at, published_by)
                    VALUES ($1, $2, $3, $4, $5, coalesce($6, now()), $7)
                    RETURNING \(Self.versionColumns)
                    """,
                    [kind.rawValue, next, text.language.rawValue, text.title, text.body, effectiveAt, actor]
                ).single()
                published.append(try Self.version(from: row))
            }
            return published
        }
    }

    /// Every version of `kind` in every language, oldest first.
    public func versions(of kind: Kind, after cursor: Cursor?, limit: Int) async throws -> Page<Version> {
        let rows = try await database.query(
            """
            SELECT \(Self.versionColumns) FROM policy_versions
            WHERE kind = $3 AND (\(Cursor.afterParameters1And2.replacingOccurrences(of: "created_at", with: "published_at")))
            ORDER BY published_at, id
            LIMIT $4
            """,
            [cursor?.createdAtMicroseconds, cursor?.id, kind.rawValue, limit + 1]
        )
        return try Page.keyset(rows, limit: limit, Self.version(from:))
    }

    /// The version of `kind` in effect now, in `language` if it has that text, else in the
    /// default language, else in any; nil before the first publication.
    public func current(_ kind: Kind, language: Language?, on session: (any Queryable)? = nil) async throws -> Version? {
        try await Self.current(kind, language: language, on: session ?? database)
    }

    static func current(_ kind: Kind, language: Language?, on session: any Queryable) async throws -> Version? {
        let rows = try await session.query(
            """
            SELECT \(Self.versionColumns) FROM policy_versions
            WHERE kind = $1 AND version = (
                SELECT max(version) FROM policy_versions WHERE kind = $1 AND effective_at <= now())
            ORDER BY language = $2 DESC, language = (SELECT default_language FROM policy_settings) DESC, language
            LIMIT 1
            """,
            [kind.rawValue, language?.rawValue]
        )
        return try rows.first.map(Self.version(from:))
    }

    public struct Acceptance: Sendable {
        public let id: UUID
        public let subject: Person
        public let kind: Kind
        public let version: Int
        public let language: Language
        public let acceptedAt: Date
        public let context: Context
        public let contextID: UUID?
        public let ip: String?
        public let userAgent: String?
        public let staffID: UUID?
    }

    /// Where an acceptance was given.
    public enum Context: String, Sendable, CaseIterable {
        case privacyCentre = "privacy_centre"
        case registration
        case customerArea = "customer_area"
        case webForm = "web_form"
        case staff
    }

    public struct Origin: Sendable {
        public let context: Context
        public let contextID: UUID?
        public let ip: String?
        public let userAgent: String?
        public let staffID: UUID?

        public init(context: Context, contextID: UUID? = nil, ip: String?, userAgent: String?, staffID: UUID? = nil) {
            self.context = context
            self.contextID = contextID
            self.ip = ip
            self.userAgent = userAgent
            self.staffID = staffID
        }
    }

    static let acceptanceColumns = """
        id, subject_type, subject_id, kind, version, language, accepted_at, context, context_id, ip, user_agent, staff_id,
        (extract(epoch FROM accepted_at) * 1000000)::bigint AS created_at_us
        """

    static func acceptance(from row: Row) throws -> Acceptance {
        let id: UUID = try row.decode("subject_id")
        return Acceptance(
            id: try row.decode("id"), subject: try row.decode("subject_type", as: String.self) == "lead" ? .lead(id) : .contact(id),
            kind: try row.decode("kind", as: Kind.self), version: try row.decode("version"),
            language: try row.decode("language", as: Language.self), acceptedAt: try row.decode("accepted_at"),
            context: try row.decode("context", as: Context.self), contextID: try row.decode("context_id"),
            ip: try row.decode("ip"), userAgent: try row.decode("user_agent"), staffID: try row.decode("staff_id"))
    }

    /// Records that `subject` accepted `version` of `kind` in `language`. Only the version in
    /// effect can be accepted (an older or future one is refused), in a language it was published in.
    public func accept(
        _ kind: Kind, version: Int, language: Language, by subject: Person, origin: Origin, on session: (any Queryable)? = nil
    ) async throws -> Acceptance {
        let session = session ?? database
        if try await session.query("SELECT 1 FROM \(subject.kind.table) WHERE id = $1", [subject.id]).isEmpty {
            throw DomainError.notFound(resource: subject.kind.resource)
        }
        guard let current = try await current(kind, language: language, on: session), current.version == version else {
            throw DomainError.invalid([FieldError(field: "version", message: "is not the version of the \(kind.title) in effect")])
        }
        let rows = try await session.query(
            """
            INSERT INTO policy_acceptances (subject_type, subject_id, kind, version, language, context, context_id, ip, user_agent, staff_id)
            SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10
            WHERE EXISTS (SELECT 1 FROM policy_versions WHERE kind = $3 AND version = $4 AND language = $5)
            RETURNING \(Self.acceptanceColumns)
            """,
            [
                subject.kind.rawValue, subject.id, kind.rawValue, version, language.rawValue, origin.context.rawValue,
                origin.contextID, origin.ip, origin.userAgent, origin.staffID,
            ]
        )
        guard let row = rows.first else {
            throw DomainError.invalid([FieldError(field: "language", message: "has no text in version \(version)")])
        }
        return try Self.acceptance(from: row)
    }

    /// Refuses (422 naming `accept`) unless `given` holds the version in effect of each of
    /// `required`; a document with no version in effect asks nothing.
    static func requireAccepted(
        _ required: [Kind], given: [(kind: Kind, version: Int, language: Language)], on session: some Queryable
    ) async throws {
        var missing: [FieldError] = []
        for kind in required {
            guard let current = try await current(kind, language: nil, on: session) else { continue }
            if !given.contains(where: { $0.kind == kind && $0.version == current.version }) {
                missing.append(FieldError(field: "accept", message: "must accept the \(kind.title) in effect (version \(current.version))"))
            }
        }
        if !missing.isEmpty { throw DomainError.invalid(missing) }
    }

    /// The person's acceptances, oldest first (a contact's include those of the lead it was).
    public func acceptances(of subject: Person, after cursor: Cursor?, limit: Int) async throws -> Page<Acceptance> {
        try await subject.requireExists(on: database)
        let rows = try await database.query(
            """
            SELECT \(Self.acceptanceColumns) FROM policy_acceptances
            WHERE (subject_id = $3 OR subject_id IN (SELECT id FROM leads WHERE converted_contact_id = $3))
              AND (\(Cursor.afterParameters1And2.replacingOccurrences(of: "created_at", with: "accepted_at")))
            ORDER BY accepted_at, id
            LIMIT $4
            """,
            [cursor?.createdAtMicroseconds, cursor?.id, subject.id, limit + 1]
        )
        return try Page.keyset(rows, limit: limit, Self.acceptance(from:))
    }

    /// The default language, for texts missing in the one asked for.
    public func defaultLanguage() async throws -> (language: Language, revision: Int64, updatedAt: Date) {
        try await Self.settings.current(on: database)
    }

    static let settings = SettingsTable<(language: Language, revision: Int64, updatedAt: Date)>(
        table: "policy_settings", columns: "default_language, revision, updated_at",
        values: { row in
            (
                language: try row.decode("default_language", as: Language.self), revision: try row.decode("revision"),
                updatedAt: try row.decode("updated_at", as: Date.self)
            )
        })

    public func setDefaultLanguage(_ language: Language, expectedRevision: Int64?, by actor: UUID) async throws -> (
        language: Language, revision: Int64, updatedAt: Date
    ) {
        try await database.transaction { transaction in
            _ = try await Self.settings.lock(expectedRevision: expectedRevision, in: transaction)
            let row = try await transaction.query(
                "UPDATE policy_settings SET default_language = $1, updated_by = $2 RETURNING default_language, revision, updated_at",
                [language.rawValue, actor]
            ).single()
            return (try row.decode("default_language", as: Language.self), try row.decode("revision"), try row.decode("updated_at"))
        }
    }
}
