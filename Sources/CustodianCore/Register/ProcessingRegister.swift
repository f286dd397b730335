import Foundation
import JSONText
import Postgres

/// The register of processing activities (GDPR Art. 30(1)), always current: each active
/// activity with what the controller wrote, and what the data says — the categories of data from
/// the personal-data map, the recipients from the webhook endpoints and integration keys, the
/// retention from the policies in force, the measures Custodian itself takes.
public struct ProcessingRegister: Sendable {
    public struct Recipient: Sendable, Equatable {
        public enum Kind: String, Sendable, CaseIterable {
            /// A webhook endpoint: named by its host.
            case webhookEndpoint = "webhook_endpoint"
            /// An integration key's holder: named as staff named the integration.
            case integration
            /// Named by the controller on an activity.
            case other
        }

        public let kind: Kind
        public let id: UUID?
        public let name: String

        public var json: JSONValue { .object(["kind": .string(kind.rawValue), "id": .uuid(id), "name": .string(name)]) }
    }

    /// The technical measures every activity in Custodian has (Art. 30(1)(g), 32), whatever the
    /// controller adds.
    public static let builtInMeasures = [
        "Access only with role-scoped API keys, stored as SHA-256 hashes; customer-area passwords hashed with bcrypt",
        "Every read and change of a person's data recorded in an append-only audit trail",
        "Consent history hash-chained and guarded by the database; signed consent receipts",
        "Webhook signing secrets sealed with AES-GCM; erased people's emails kept only as keyed hashes",
        "Rate limits, body limits and deadlines on every public endpoint",
        "Restriction of processing and legal holds enforced by the database",
    ]

    let database: PostgresPool

    public init(database: PostgresPool) { self.database = database }

    /// Everyone who receives people's data from Custodian: active webhook endpoints and the
    /// integrations holding a key that is not revoked.
    static func recipients(on session: some Queryable) async throws -> [Recipient] {
        try await session.query(
            """
            SELECT 'webhook_endpoint' AS kind, id, substring(url FROM '^https?://([^/:?#]+)') AS name, created_at
            FROM webhook_endpoints WHERE active
            UNION ALL
            SELECT 'integration', s.id, s.name, s.created_at FROM staff s
            WHERE s.role = 'integration' AND s.active AND EXISTS (SELECT 1 FROM api_keys k WHERE k.staff_id = s.id AND k.revoked_at IS NULL)
            ORDER BY 1 DESC, 4, 2
            """
        ).map { row in
            Recipient(
                kind: try row.decode("kind") == "integration" ? .integration : .webhookEndpoint, id: try row.decode("id"),
                name: try row.decode("name", as: String?.self) ?? "")
        }
    }

    /// The categories of data an activity concerns, each with the columns holding it: from the
    /// map, over the tables the activity names or else every table its people own rows of.
    static func dataCategories(of definition: ProcessingActivities.Definition, on session: some Queryable) async throws -> JSONValue {
        let rows = try await session.query(
            """
            SELECT m.category, jsonb_agg(m.table_name || '.' || m.column_name ORDER BY m.table_name, m.column_name)::text AS columns
            FROM personal_data_map m
            WHERE m.category <> 'not_personal' AND m.subject IS DISTINCT FROM 'staff'
              AND m.table_name IN (SELECT o.table_name FROM personal_data_owners o WHERE o.subject = ANY ($1::text[] || '{person}'::text[]))
              AND ($2::text[] IS NULL OR m.table_name = ANY ($2::text[]))
            GROUP BY m.category ORDER BY m.category
            """,
            [ArrayLiteral.texts(definition.subjectTypes.map(\.rawValue)), definition.tables.map(ArrayLiteral.texts)]
        )
        return .array(
            try rows.map { row in
                .object([
                    "category": .string(try row.decode("category")),
                    "columns": JSONValue(json: try row.decode("columns", as: String.self)) ?? .array([]),
                ])
            })
    }

    /// The register as JSON: the controller, every active activity in full, every recipient.
    public func document() async throws -> JSONValue {
        try await database.transaction(isolation: .repeatableRead, readOnly: true) { transaction in
            let controller = try await ControllerDetails.current(on: transaction)
            let recipients = try await Self.recipients(on: transaction)
            let policies = try await RetentionPolicies.inForce(on: transaction)
            let retentionText = try await PrivacyCentre.settings(on: transaction).retention
            let purposes = Dictionary(
                uniqueKeysWithValues: try await transaction.query("SELECT id, name, lawful_basis FROM consent_purposes").map { row in
                    (
                        try row.decode("id", as: UUID.self),
                        (name: try row.decode("name", as: String.self), basis: try row.decode("lawful_basis", as: String.self))
                    )
                })
            var activities: [JSONValue] = []
            for activity in try await ProcessingActivities.active(on: transaction) {
                let definition = activity.definition
                let purpose = definition.consentPurposeID.flatMap { purposes[$0] }
                let retention =
                    policies.filter { policy in definition.subjectTypes.contains { $0.rawValue == policy.subjectType.rawValue } }
                    .map { JSONValue.string(RetentionStatement.sentence($0, language: .en)) } + [.string(retentionText)]
                activities.append(
                    .object([
                        "id": .uuid(activity.id),
                        "name": .string(definition.name),
                        "purpose": .string(definition.purpose),
                        "consent_purpose": definition.consentPurposeID.map { id in
                            .object(["id": .uuid(id), "name": .string(purpose?.name)])
                        } ?? .null,
                        "lawful_basis": .string(definition.lawfulBasis?.rawValue ?? purpose?.basis),
                        "categories_of_people": .array(definition.subjectTypes.map { .string($0.rawValue) }),
                        "categories_of_data": try await Self.dataCategories(of: definition, on: transaction),
                        "recipients": .array(
                            recipients.map(\.json) + definition.otherRecipients.map { Recipient(kind: .other, id: nil, name: $0).json }),
                        "third_country_transfers": .array(
                            definition.transfers.map(\.json)),
                        "retention": .array(retention),
                        "security_measures": .array((Self.builtInMeasures + definition.securityMeasures).map(JSONValue.string)),
                        "updated_at": .timestamp(activity.updatedAt),
                    ]))
            }
            return .object([
                "generated_at": .timestamp(Date()),
                "controller": controller.json,
                "activities": .array(activities),
                "recipients": .array(recipients.map(\.json)),
            ])
        }
    }

    /// What people are told in their privacy centre (Art. 13(1)(a)-(e), 14): the controller, its
    /// officer, the authority they may complain to, and who receives their data.
    static func forThePerson(on session: some Queryable) async throws -> (controller: JSONValue, recipients: JSONValue) {
        let controller = try await ControllerDetails.current(on: session)
        let recipients = try await recipients(on: session)
        return (controller.json, .array(recipients.map { .object(["kind": .string($0.kind.rawValue), "name": .string($0.name)]) }))
    }
}
