import Foundation
import JSONText
import Postgres

/// The processing activities of the register (GDPR Art. 30(1)): what only the controller can
/// say about each — its purpose, its lawful basis (or the consent purpose it is), whose data,
/// which tables if not all, other recipients, transfers to third countries, security measures.
/// Everything else the register derives (`ProcessingRegister`).
public struct ProcessingActivities: Sendable {
    public struct Transfer: Sendable, Equatable {
        /// ISO 3166-1 alpha-2.
        public let country: String
        /// The safeguard (Art. 46): adequacy decision, standard contractual clauses...
        public let safeguard: String

        public init(country: String, safeguard: String) {
            self.country = country
            self.safeguard = safeguard
        }

        /// As stored, answered and listed in the register.
        public var json: JSONValue { .object(["country": .string(country), "safeguard": .string(safeguard)]) }
    }

    public struct Definition: Sendable {
        public var name: String
        public var purpose: String
        public var consentPurposeID: UUID?
        public var lawfulBasis: ConsentPurposes.LawfulBasis?
        public var subjectTypes: [DataSubject.Kind]
        public var tables: [String]?
        public var otherRecipients: [String] = []
        public var transfers: [Transfer] = []
        public var securityMeasures: [String] = []
        public var active = true

        public init(name: String, purpose: String, lawfulBasis: ConsentPurposes.LawfulBasis?, subjectTypes: [DataSubject.Kind]) {
            self.name = name
            self.purpose = purpose
            self.lawfulBasis = lawfulBasis
            self.subjectTypes = subjectTypes
        }
    }

    public struct Activity: Sendable {
        public let id: UUID
        public let definition: Definition
        public let createdBy: UUID?
        public let createdAt: Date
        public let updatedAt: Date
        public let revision: Int64
    }

    let database: PostgresPool

    public init(database: PostgresPool) { self.database = database }

    static let columns = """
        id, name, purpose, consent_purpose_id, lawful_basis, to_jsonb(subject_types) AS subject_types, to_jsonb(tables) AS tables,
        to_jsonb(other_recipients) AS other_recipients, transfers, to_jsonb(security_measures) AS security_measures, active,
        created_by, created_at, updated_at, revision, (extract(epoch FROM created_at) * 1000000)::bigint AS created_at_us
        """

    static func activity(from row: Row) throws -> Activity {
        var definition = Definition(
            name: try row.decode("name"), purpose: try row.decode("purpose"),
            lawfulBasis: try row.decode("lawful_basis", as: ConsentPurposes.LawfulBasis?.self),
            subjectTypes: try row.decodeNames("subject_types"))
        definition.consentPurposeID = try row.decode("consent_purpose_id")
        definition.tables = try row.decode("tables", as: JSONB<[String]>?.self)?.value
        definition.otherRecipients = try row.decode("other_recipients", as: JSONB<[String]>.self).value
        definition.securityMeasures = try row.decode("security_measures", as: JSONB<[String]>.self).value
        definition.transfers =
            try row.decode("transfers", as: JSONValue.self).array?.map { item in
                Transfer(country: item["country"]?.string ?? "", safeguard: item["safeguard"]?.string ?? "")
            } ?? []
        definition.active = try row.decode("active")
        return Activity(
            id: try row.decode("id"), definition: definition, createdBy: try row.decode("created_by"),
            createdAt: try row.decode("created_at"), updatedAt: try row.decode("updated_at"), revision: try row.decode("revision"))
    }

    /// The tables an activity may name: those the map says hold a person's rows.
    static func personTables(on session: some Queryable) async throws -> Set<String> {
        Set(try await session.query("SELECT DISTINCT table_name FROM personal_data_owners").map { try $0.decode("table_name") })
    }

    private static func check(_ definition: Definition, on session: some Queryable) async throws {
        var problems: [FieldError] = []
        if definition.lawfulBasis == nil && definition.consentPurposeID == nil {
            problems.append(FieldError(field: "lawful_basis", message: "is required unless consent_purpose_id names the consent purpose"))
        }
        if let tables = definition.tables {
            let known = try await personTables(on: session)
            if let unknown = tables.first(where: { !known.contains($0) }) {
                problems.append(
                    FieldError(field: "tables", message: "\(unknown) holds no person's rows; use tables of the personal-data map"))
            }
        }
        if let id = definition.consentPurposeID,
            try await session.query("SELECT 1 FROM consent_purposes WHERE id = $1", [id]).first == nil
        {
            problems.append(FieldError(field: "consent_purpose_id", message: "no such consent purpose"))
        }
        guard problems.isEmpty else { throw DomainError.invalid(problems) }
    }

    private static func parameters(_ definition: Definition) -> [any PostgresBindable] {
        [
            definition.name, definition.purpose, definition.consentPurposeID, definition.lawfulBasis?.rawValue,
            ArrayLiteral.texts(definition.subjectTypes.map(\.rawValue)), definition.tables.map(ArrayLiteral.texts),
            ArrayLiteral.texts(definition.otherRecipients),
            JSONB(
                JSONValue.array(definition.transfers.map(\.json))),
            ArrayLiteral.texts(definition.securityMeasures), definition.active,
        ]
    }

    public func create(_ definition: Definition, by actor: UUID) async throws -> Activity {
        try await database.transaction { transaction in
            try await Self.check(definition, on: transaction)
            return try Self.activity(
                from: try await transaction.query(
                    """
                    INSERT INTO processing_activities (name, purpose, consent_purpose_id, lawful_basis, subject_types, tables, other_recipients,
                                                       transfers, security_measures, active, created_by, updated_by)
                    VALUES ($1, $2, $3, $4, $5::text[], $6::text[], $7::text[], $8, $9::text[], $10, $11, $11) RETURNING \(Self.columns)
                    """,
                    Self.parameters(definition) + [actor]
                ).single())
        }
    }

    public func find(_ id: UUID) async throws -> Activity {
        guard let row = try await database.query("SELECT \(Self.columns) FROM processing_activities WHERE id = $1", [id]).first else {
            throw DomainError.notFound(resource: "processing activity")
        }
        return try Self.activity(from: row)
    }

    public func list(after cursor: Cursor?, limit: Int) async throws -> Page<Activity> {
        let rows = try await database.query(
            "SELECT \(Self.columns) FROM processing_activities WHERE \(Cursor.afterParameters1And2) ORDER BY created_at, id LIMIT $3",
            [cursor?.createdAtMicroseconds, cursor?.id, limit + 1])
        return try Page.keyset(rows, limit: limit, Self.activity(from:))
    }

    static func active(on session: some Queryable) async throws -> [Activity] {
        try await session.query("SELECT \(columns) FROM processing_activities WHERE active ORDER BY created_at, id").map(activity(from:))
    }

    /// Replaces the definition under If-Match (`change` amends the current one).
    public func update(
        _ id: UUID, expectedRevision: Int64?, by actor: UUID, _ change: @Sendable (inout Definition) -> Void
    ) async throws -> Activity {
        try await database.transaction { transaction in
            var definition = try Self.activity(
                from: try await transaction.lockRow(
                    "processing_activities", id: id, selecting: Self.columns, resource: "processing activity",
                    expectedRevision: expectedRevision)
            ).definition
            change(&definition)
            try await Self.check(definition, on: transaction)
            return try Self.activity(
                from: try await transaction.query(
                    """
                    UPDATE processing_activities SET name = $1, purpose = $2, consent_purpose_id = $3, lawful_basis = $4,
                        subject_types = $5::text[], tables = $6::text[], other_recipients = $7::text[], transfers = $8,
                        security_measures = $9::text[], active = $10, updated_by = $11
                    WHERE id = $12 RETURNING \(Self.columns)
                    """,
                    Self.parameters(definition) + [actor, id]
                ).single())
        }
    }
}
