import Foundation
import JSONText
import Postgres

/// What a person sees and may correct through their personal link (GDPR Art. 15, 16): their
/// data as the map marks it visible, the purposes with their consent, the categories held, where
/// the data came from, how long it is kept, their rights, and the policies in effect.
public struct PrivacyCentre: Sendable {
    let database: PostgresPool

    public init(database: PostgresPool) { self.database = database }

    public struct Settings: Sendable {
        public let leadCorrectable: [String]
        public let contactCorrectable: [String]
        public let retention: String
        public let revision: Int64
        public let updatedAt: Date

        public func correctable(for kind: Person.Kind) -> [String] {
            switch kind {
            case .lead: leadCorrectable
            case .contact: contactCorrectable
            }
        }
    }

    static let settingsTable = SettingsTable(
        table: "privacy_settings",
        columns: """
            to_jsonb(lead_correctable) AS lead_correctable, to_jsonb(contact_correctable) AS contact_correctable,
            retention, revision, updated_at
            """,
        values: { row in
            Settings(
                leadCorrectable: try row.decode("lead_correctable", as: JSONB<[String]>.self).value,
                contactCorrectable: try row.decode("contact_correctable", as: JSONB<[String]>.self).value,
                retention: try row.decode("retention"), revision: try row.decode("revision"), updatedAt: try row.decode("updated_at"))
        }
    )

    static func settings(on session: some Queryable) async throws -> Settings { try await settingsTable.current(on: session) }

    public func settings() async throws -> Settings { try await Self.settings(on: database) }

    /// Fields a person may be allowed to correct: the columns of their record they see.
    public func visibleColumns(of kind: Person.Kind) async throws -> [String] {
        try await database.query(
            "SELECT column_name FROM personal_data_map WHERE table_name = $1 AND subject_visible ORDER BY column_name",
            [kind.table]
        ).map { try $0.decode("column_name") }
    }

    public func updateSettings(
        leadCorrectable: [String]?, contactCorrectable: [String]?, retention: String?, expectedRevision: Int64?, by actor: UUID
    ) async throws -> Settings {
        for (field, names, kind) in [
            ("lead_correctable", leadCorrectable, Person.Kind.lead), ("contact_correctable", contactCorrectable, .contact),
        ] {
            guard let names else { continue }
            let visible = Set(try await visibleColumns(of: kind))
            if let unknown = names.first(where: { !visible.contains($0) }) {
                throw DomainError.invalid([FieldError(field: field, message: "\(unknown) is not a field the person sees")])
            }
        }
        return try await database.transaction { transaction in
            _ = try await Self.settingsTable.lock(expectedRevision: expectedRevision, in: transaction)
            try await transaction.execute(
                """
                UPDATE privacy_settings SET lead_correctable = coalesce($1::text[], lead_correctable),
                    contact_correctable = coalesce($2::text[], contact_correctable), retention = coalesce($3, retention), updated_by = $4
                """,
                [leadCorrectable.map(ArrayLiteral.texts), contactCorrectable.map(ArrayLiteral.texts), retention, actor])
            return try await Self.settings(on: transaction)
        }
    }

    /// The person's privacy centre; `language` is that of the texts written from data (retention).
    public func view(_ subject: Person, language: Policies.Language = .en) async throws -> JSONValue {
        try await database.transaction(isolation: .repeatableRead, readOnly: true) { transaction in
            try await Self.view(subject, language: language, on: transaction)
        }
    }

    static func view(_ subject: Person, language: Policies.Language = .en, on transaction: PostgresSession) async throws -> JSONValue {
        let table = subject.kind.table
        let rows = try await transaction.query(
            """
            SELECT (SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each(to_jsonb(t)) e
                    WHERE e.key IN (SELECT column_name FROM personal_data_map WHERE table_name = $2 AND subject_visible))::text AS data,
                   coalesce((SELECT jsonb_agg(jsonb_build_object('key', d.key, 'label', d.label, 'type', d.type, 'value', t.custom_fields -> d.key)
                                              ORDER BY d.key)
                             FROM custom_field_definitions d
                             WHERE d.entity = $3 AND d.visible_to_subject AND d.active AND t.custom_fields ? d.key), '[]')::text AS custom_fields,
                   coalesce((SELECT jsonb_agg(DISTINCT m.category ORDER BY m.category) FROM personal_data_map m
                             WHERE m.table_name IN ($2, 'consent_records', 'notes', 'request_cases', 'policy_acceptances', 'corrections')
                               AND m.category NOT IN ('not_personal', 'credential') AND m.subject IN ($3, 'person')), '[]')::text AS categories,
                   \(subject.kind == .lead ? "CASE WHEN t.source IS NULL THEN 'staff' ELSE t.source END" :
                       "CASE WHEN EXISTS (SELECT 1 FROM leads l WHERE l.converted_contact_id = t.id) THEN 'converted_lead' ELSE 'staff' END") AS source
            FROM \(table) t WHERE t.id = $1
            """,
            [subject.id, table, subject.kind.resource]
        )
        guard let row = rows.first else { throw DomainError.notFound(resource: subject.kind.resource) }
        let settings = try await Self.settings(on: transaction)
        let purposes = try await transaction.query(
            """
            SELECT coalesce(jsonb_agg(jsonb_build_object(
                'purpose_id', p.id, 'name', v.name, 'description', v.description, 'lawful_basis', v.lawful_basis,
                'consent', \(ConsentLedger.stateExpression(notAsked: "none")),
                'objectable', p.lawful_basis = 'legitimate_interests' OR p.direct_marketing
            ) ORDER BY p.created_at, p.id), '[]')::text AS purposes
            FROM consent_purposes p JOIN consent_purpose_versions v ON v.purpose_id = p.id AND v.version = p.current_version
            \(ConsentLedger.stateJoins(person: "$1"))
            WHERE p.active AND p.applies_to IN ('both', $2)
            """,
            [subject.id, table]
        ).single()
        var policies: [JSONValue] = []
        for kind in Policies.Kind.allCases {
            guard let version = try await Policies.current(kind, language: nil, on: transaction)
            else { continue }
            let accepted: Bool = try await transaction.query(
                "SELECT EXISTS (SELECT 1 FROM policy_acceptances WHERE subject_id = $1 AND kind = $2 AND version = $3) AS accepted",
                [subject.id, kind.rawValue, version.version]
            ).single().decode("accepted")
            policies.append(
                .object([
                    "kind": .string(kind.rawValue), "version": .integer(version.version), "title": .string(version.title),
                    "effective_at": .timestamp(version.effectiveAt), "accepted": .bool(accepted),
                ]))
        }
        func json(_ column: String) throws -> JSONValue {
            try JSONDecoder().decode(JSONValue.self, from: Data((try row.decode(column, as: String?.self) ?? "null").utf8))
        }
        var data = try json("data")
        if data == .null { data = .object([:]) }
        let restriction = try await Restrictions.inForce(for: subject.id, on: transaction)
        let told = try await ProcessingRegister.forThePerson(on: transaction)
        let retention = [
            RetentionStatement.text(try await RetentionPolicies.inForce(on: transaction), for: subject.kind, language: language),
            settings.retention,
        ].compactMap { $0 }.joined(separator: " ")
        return .object([
            "restriction": restriction.map { restriction in
                .object(["ground": .string(restriction.ground.rawValue), "since": .timestamp(restriction.setAt)])
            } ?? .null,
            "subject": .object(["kind": .string(subject.kind.rawValue), "id": .uuid(subject.id)]),
            "data": data,
            "custom_fields": try json("custom_fields"),
            "correctable": .array(settings.correctable(for: subject.kind).map(JSONValue.string)),
            "purposes": try JSONDecoder().decode(JSONValue.self, from: Data(try purposes.decode("purposes", as: String.self).utf8)),
            "categories": try json("categories"),
            "source": .string(try row.decode("source")),
            "retention": .string(retention),
            "controller": told.controller,
            "recipients": told.recipients,
            "rights": .array(
                Self.rights.map { right in .object(["right": .string(right.0), "article": .string(right.1), "how": .string(right.2)]) }),
            "policies": .array(policies),
        ])
    }

    /// Each right, its article, and how the person uses it (paths under their link).
    static let rights: [(String, String, String)] = [
        ("access", "Art. 15", "GET /v1/public/people/{token} and its export, GET /v1/public/people/{token}/export"),
        ("rectification", "Art. 16", "PATCH /v1/public/people/{token}, or a request of kind rectification"),
        ("erasure", "Art. 17", "a request of kind erasure: POST /v1/public/people/{token}/requests"),
        ("restriction", "Art. 18", "a request of kind restriction"),
        ("portability", "Art. 20", "GET /v1/public/people/{token}/export, or a request of kind portability"),
        ("objection", "Art. 21", "a request of kind objection"),
        ("withdraw_consent", "Art. 7(3)", "POST /v1/public/consent/{token}, at any time, as easily as it was given"),
        (
            "complaint", "Art. 77",
            "a complaint to a supervisory authority, where you live or work or where the infringement happened (ours: controller.supervisory_authority)"
        ),
    ]

    /// What a correction did: the person's view after it, and the new email address waiting for
    /// confirmation, if one was given.
    public struct Corrected: Sendable {
        public let view: JSONValue
        public let pendingEmail: EmailChanges.Pending?
    }

    /// The person corrects fields settings allow, validated as staff writes are; every change is
    /// recorded (field, old and new value, when, by the person) by the database. A new email
    /// address is not written: it is sent a confirmation link (`EmailChanges`), and counts once
    /// the link is used.
    public func correct(_ subject: Person, _ values: ColumnValues, emailChanges: EmailChanges) async throws -> Corrected {
        let table = subject.kind.recordTable
        return try await database.transaction(isolation: .repeatableRead) { transaction in
            let allowed = Set(try await Self.settings(on: transaction).correctable(for: subject.kind))
            if let refused = values.first(where: { !allowed.contains($0.column) }) {
                throw DomainError.invalid([FieldError(field: refused.column, message: "is not a field you can correct here")])
            }
            var direct = values
            var newEmail: (email: String, current: String?, revision: Int64)?
            if let index = values.firstIndex(where: { $0.column == "email" }), case .text(let email) = values[index].value {
                let row = try await transaction.lockRow(
                    subject.kind.table, id: subject.id, selecting: "email, revision", resource: subject.kind.resource,
                    expectedRevision: nil)
                let current: String? = try row.decode("email")
                // The same address in other letter case is no new address: written at once.
                if current?.lowercased() != email.lowercased() {
                    newEmail = (email, current, try row.decode("revision"))
                    direct.remove(at: index)
                }
            }
            if !direct.isEmpty {
                let updated = try await table.update(
                    id: subject.id, direct, customFields: nil, expectedRevision: nil, by: nil, in: transaction)
                newEmail?.revision = updated.revision
            }
            var pending: EmailChanges.Pending?
            if let newEmail {
                pending = try await emailChanges.request(
                    subject, newEmail: newEmail.email, currentEmail: newEmail.current, revision: newEmail.revision, on: transaction)
            }
            return Corrected(view: try await Self.view(subject, on: transaction), pendingEmail: pending)
        }
    }

    public struct Correction: Sendable {
        public let id: UUID
        public let subject: Person
        public let field: String
        public let oldValue: String?
        public let newValue: String?
        public let correctedAt: Date
        public let correctedBy: String
        public let staffID: UUID?
    }

    /// Every change of the person's values, oldest first (a contact's include the lead it was).
    public func corrections(of subject: Person, after cursor: Cursor?, limit: Int) async throws -> Page<Correction> {
        try await subject.requireExists(on: database)
        let rows = try await database.query(
            """
            SELECT id, subject_type, subject_id, field, old_value, new_value, corrected_at, corrected_by, staff_id,
                   (extract(epoch FROM corrected_at) * 1000000)::bigint AS created_at_us
            FROM corrections
            WHERE (subject_id = $3 OR subject_id IN (SELECT id FROM leads WHERE converted_contact_id = $3))
              AND (\(Cursor.afterParameters1And2.replacingOccurrences(of: "created_at", with: "corrected_at")))
            ORDER BY corrected_at, id
            LIMIT $4
            """,
            [cursor?.createdAtMicroseconds, cursor?.id, subject.id, limit + 1]
        )
        return try Page.keyset(rows, limit: limit) { row in
            let id: UUID = try row.decode("subject_id")
            return Correction(
                id: try row.decode("id"), subject: try row.decode("subject_type", as: String.self) == "lead" ? .lead(id) : .contact(id),
                field: try row.decode("field"), oldValue: try row.decode("old_value"), newValue: try row.decode("new_value"),
                correctedAt: try row.decode("corrected_at"), correctedBy: try row.decode("corrected_by"),
                staffID: try row.decode("staff_id"))
        }
    }
}
