import Crypto
import Foundation
import JSONText
import Postgres

/// Web-to-lead forms: what a form asks, which consent purposes it offers, which policies it
/// requires. A submission creates the lead, its acceptances and its consents in one transaction,
/// or nothing.
public struct WebForms: Sendable {
    public struct Form: Sendable {
        public let id: UUID
        public let key: String
        public let name: String
        public let fields: [String]
        public let requiredFields: [String]
        public let purposes: [UUID]
        public let requiresTerms: Bool
        public let requiresPrivacy: Bool
        public let thankYou: String
        public let source: String
        public let active: Bool
        public let revision: Int64
        public let createdAt: Date
        public let updatedAt: Date

        /// The documents a submission must accept, in their version in effect.
        public var requiredPolicies: [Policies.Kind] {
            [requiresTerms ? .terms : nil, requiresPrivacy ? .privacy : nil].compactMap { $0 }
        }

        /// The lead fields the form asks, required as the form says.
        public var askedColumns: [ColumnSpec] {
            Leads.table.columns.filter { fields.contains($0.name) }.map { spec in
                ColumnSpec(spec.name, spec.kind, required: requiredFields.contains(spec.name), nullable: spec.nullable)
            }
        }
    }

    public struct Definition: Sendable {
        public var name: String
        public var fields: [String]
        public var requiredFields: [String]
        public var purposes: [UUID]
        public var requiresTerms: Bool
        public var requiresPrivacy: Bool
        public var thankYou: String?
        public var source: String?

        public init(
            name: String, fields: [String], requiredFields: [String], purposes: [UUID], requiresTerms: Bool, requiresPrivacy: Bool,
            thankYou: String?, source: String?
        ) {
            self.name = name
            self.fields = fields
            self.requiredFields = requiredFields
            self.purposes = purposes
            self.requiresTerms = requiresTerms
            self.requiresPrivacy = requiresPrivacy
            self.thankYou = thankYou
            self.source = source
        }
    }

    /// The lead columns a form may ask for.
    public static let askable = [
        "name", "company", "title", "email", "phone", "website", "street", "city", "state", "zip", "country", "description",
    ]

    /// How long a second identical submission is answered without a second lead.
    static let duplicateWindow = "10 minutes"

    let database: PostgresPool

    public init(database: PostgresPool) { self.database = database }

    static let columns = """
        id, key, name, to_jsonb(fields) AS fields, to_jsonb(required_fields) AS required_fields, to_jsonb(purposes) AS purposes,
        requires_terms, requires_privacy, thank_you, source, active, revision, created_at, updated_at,
        (extract(epoch FROM created_at) * 1000000)::bigint AS created_at_us
        """

    static func form(from row: Row) throws -> Form {
        Form(
            id: try row.decode("id"), key: try row.decode("key"), name: try row.decode("name"),
            fields: try row.decode("fields", as: JSONB<[String]>.self).value,
            requiredFields: try row.decode("required_fields", as: JSONB<[String]>.self).value,
            purposes: try row.decode("purposes", as: JSONB<[UUID]>.self).value, requiresTerms: try row.decode("requires_terms"),
            requiresPrivacy: try row.decode("requires_privacy"), thankYou: try row.decode("thank_you"), source: try row.decode("source"),
            active: try row.decode("active"), revision: try row.decode("revision"), createdAt: try row.decode("created_at"),
            updatedAt: try row.decode("updated_at"))
    }

    public func create(_ definition: Definition, by actor: UUID) async throws -> Form {
        var problems: [FieldError] = []
        if let unknown = definition.fields.first(where: { !Self.askable.contains($0) }) {
            problems.append(FieldError(field: "fields", message: "\(unknown) is not a lead field a form can ask for"))
        }
        if !definition.fields.contains("name") || !definition.requiredFields.contains("name") {
            problems.append(FieldError(field: "required_fields", message: "must include name: every lead has one"))
        }
        if let extra = definition.requiredFields.first(where: { !definition.fields.contains($0) }) {
            problems.append(FieldError(field: "required_fields", message: "\(extra) is not among the form's fields"))
        }
        if !problems.isEmpty { throw DomainError.invalid(problems) }
        return try await database.transaction { transaction in
            let offered = try await transaction.query(
                "SELECT count(*)::int AS n FROM consent_purposes WHERE id = ANY ($1::uuid[]) AND active AND applies_to IN ('leads', 'both')",
                [ArrayLiteral.uuids(definition.purposes)]
            ).single().decode("n", as: Int.self)
            if offered != Set(definition.purposes).count {
                throw DomainError.invalid([FieldError(field: "purposes", message: "must be active purposes that apply to leads")])
            }
            let key = Data((0..<16).map { _ in UInt8.random(in: .min ... .max) }).base64URLEncoded
            let row = try await transaction.query(
                """
                INSERT INTO web_forms (key, name, fields, required_fields, purposes, requires_terms, requires_privacy, thank_you, source,
                                       created_by, updated_by)
                VALUES ($1, $2, $3::text[], $4::text[], $5::uuid[], $6, $7, coalesce($8, 'Thank you. We will be in touch.'),
                        coalesce($9, 'web form'), $10, $10)
                RETURNING \(Self.columns)
                """,
                [
                    key, definition.name, ArrayLiteral.texts(definition.fields), ArrayLiteral.texts(definition.requiredFields),
                    ArrayLiteral.uuids(definition.purposes), definition.requiresTerms, definition.requiresPrivacy, definition.thankYou,
                    definition.source, actor,
                ]
            ).single()
            return try Self.form(from: row)
        }
    }

    public func list(after cursor: Cursor?, limit: Int) async throws -> Page<Form> {
        let rows = try await database.query(
            "SELECT \(Self.columns) FROM web_forms WHERE \(Cursor.afterParameters1And2) ORDER BY created_at, id LIMIT $3",
            [cursor?.createdAtMicroseconds, cursor?.id, limit + 1])
        return try Page.keyset(rows, limit: limit, Self.form(from:))
    }

    public func find(id: UUID) async throws -> Form {
        guard let row = try await database.query("SELECT \(Self.columns) FROM web_forms WHERE id = $1", [id]).first else {
            throw DomainError.notFound(resource: "form")
        }
        return try Self.form(from: row)
    }

    /// Switches a form on or off, or changes its texts and required policies.
    public func update(
        id: UUID, active: Bool?, name: String?, thankYou: String?, requiresTerms: Bool?, requiresPrivacy: Bool?, expectedRevision: Int64?,
        by actor: UUID
    ) async throws -> Form {
        try await database.transaction { transaction in
            _ = try await transaction.lockRow("web_forms", id: id, resource: "form", expectedRevision: expectedRevision)
            let row = try await transaction.query(
                """
                UPDATE web_forms SET active = coalesce($2, active), name = coalesce($3, name), thank_you = coalesce($4, thank_you),
                    requires_terms = coalesce($5, requires_terms), requires_privacy = coalesce($6, requires_privacy), updated_by = $7
                WHERE id = $1 RETURNING \(Self.columns)
                """, [id, active, name, thankYou, requiresTerms, requiresPrivacy, actor]
            ).single()
            return try Self.form(from: row)
        }
    }

    /// An active form by its public key.
    public func published(key: String) async throws -> Form {
        guard let row = try await database.query("SELECT \(Self.columns) FROM web_forms WHERE key = $1 AND active", [key]).first else {
            throw DomainError.notFound(resource: "form")
        }
        return try Self.form(from: row)
    }

    /// What a page needs to render `form`: its fields, the purposes offered with the texts a
    /// person decides on, and the policies to accept in their versions in effect.
    public func publicView(of form: Form) async throws -> JSONValue {
        let purposes = try await database.query(
            """
            SELECT p.id, v.name, v.description, v.lawful_basis
            FROM consent_purposes p JOIN consent_purpose_versions v ON v.purpose_id = p.id AND v.version = p.current_version
            WHERE p.id = ANY ($1::uuid[]) AND p.active
            ORDER BY p.created_at, p.id
            """, [ArrayLiteral.uuids(form.purposes)])
        var policies: [JSONValue] = []
        for kind in form.requiredPolicies {
            for language in Policies.Language.allCases {
                guard let version = try await Policies.current(kind, language: language, on: database), version.language == language
                else { continue }
                policies.append(
                    .object([
                        "kind": .string(kind.rawValue), "version": .integer(version.version), "language": .string(language.rawValue),
                        "title": .string(version.title),
                    ]))
            }
        }
        return .object([
            "name": .string(form.name),
            "fields": .array(form.fields.map(JSONValue.string)),
            "required_fields": .array(form.requiredFields.map(JSONValue.string)),
            "purposes": .array(
                try purposes.map { row in
                    .object([
                        "id": .uuid(try row.decode("id")), "name": .string(try row.decode("name", as: String.self)),
                        "description": .string(try row.decode("description", as: String.self)),
                        "lawful_basis": .string(try row.decode("lawful_basis", as: String.self)),
                    ])
                }),
            "policies": .array(policies),
        ])
    }

    public static func couldBeKey(_ key: String) -> Bool {
        key.utf8.count == 22 && Data(base64URLEncoded: key) != nil
    }

    public struct Submission: Sendable {
        public var values: ColumnValues
        public var consents: [UUID]
        public var acceptances: [(kind: Policies.Kind, version: Int, language: Policies.Language)]
        /// The submission's canonical bytes: the same answers twice are one submission.
        public var canonical: [UInt8]
        public var ip: String?
        public var userAgent: String?

        public init(
            values: ColumnValues, consents: [UUID], acceptances: [(kind: Policies.Kind, version: Int, language: Policies.Language)],
            canonical: [UInt8], ip: String?, userAgent: String?
        ) {
            self.values = values
            self.consents = consents
            self.acceptances = acceptances
            self.canonical = canonical
            self.ip = ip
            self.userAgent = userAgent
        }
    }

    /// Creates the lead, its acceptances and its consents in one transaction; a required policy
    /// not accepted (in its version in effect) refuses all of it. The same submission again
    /// within the duplicate window creates nothing more. Returns whether a lead was created.
    @discardableResult
    public func submit(_ submission: Submission, to form: Form) async throws -> Bool {
        if let stray = submission.consents.first(where: { !form.purposes.contains($0) }) {
            throw DomainError.invalid([
                FieldError(field: "consents", message: "\(stray.lowercasedString) is not offered by this form")
            ])
        }
        let fingerprint = Array(SHA256.hash(data: Data(form.id.uuidString.utf8) + Data(submission.canonical)))
        return try await database.transaction { transaction in
            try await transaction.execute("SELECT pg_advisory_xact_lock(hashtext(encode($1::bytea, 'hex')))", [fingerprint])
            let seen = try await transaction.query(
                "SELECT 1 FROM web_form_submissions WHERE fingerprint = $1 AND created_at > now() - interval '\(Self.duplicateWindow)'",
                [fingerprint])
            if !seen.isEmpty { return false }
            try await Policies.requireAccepted(form.requiredPolicies, given: submission.acceptances, on: transaction)
            let lead = try await Leads.table.insert(
                submission.values + [(column: "source", value: .text(form.source))], customFields: .object([:]), by: nil, on: transaction)
            let person = Person.lead(lead.id)
            let policies = Policies(database: database)
            for acceptance in submission.acceptances {
                _ = try await policies.accept(
                    acceptance.kind, version: acceptance.version, language: acceptance.language, by: person,
                    origin: .init(context: .webForm, contextID: form.id, ip: submission.ip, userAgent: submission.userAgent),
                    on: transaction)
            }
            if !submission.consents.isEmpty {
                _ = try await ConsentLedger(database: database).record(
                    submission.consents.map { (purposeID: $0, action: .give) }, for: person,
                    origin: .init(channel: .webForm, ip: submission.ip, userAgent: submission.userAgent), on: transaction)
            }
            // One past the window may still be there (housekeeping had not come by yet).
            try await transaction.execute("DELETE FROM web_form_submissions WHERE fingerprint = $1", [fingerprint])
            try await transaction.execute(
                "INSERT INTO web_form_submissions (fingerprint, form_id, lead_id) VALUES ($1, $2, $3)", [fingerprint, form.id, lead.id])
            return true
        }
    }

    /// Forgets submissions past the duplicate window; returns how many.
    @Sendable public func forgetOldSubmissions() async throws -> Int {
        try await database.execute("DELETE FROM web_form_submissions WHERE created_at < now() - interval '\(Self.duplicateWindow)'")
    }
}
