import Foundation
import JSONText
import Postgres

/// Retention policies (GDPR Art. 5(1)(e)): "leads nobody dealt with for 24 months", "lost leads
/// after 6 months", "contacts of customers inactive for 10 years". A policy is a condition over
/// a lead or a contact and its activity, and an action (erase). It does nothing until made
/// active; its preview (`RetentionPreview`) shows whom it would erase and why, and its run
/// (`RetentionRuns`) erases exactly those through the map-driven erasure.
public struct RetentionPolicies: Sendable {
    /// Whose activity counts for a contact: their own, or their whole customer's.
    public enum ActivityOf: String, Sendable, CaseIterable {
        case record, customer
    }

    /// What the policy does to the people it matches. Only `erase`: the personal-data map
    /// deletes the rows of leads and contacts, so nothing may be anonymised in their place.
    public enum Action: String, Sendable, CaseIterable {
        case erase
    }

    public struct Policy: Sendable {
        public let id: UUID
        public let name: String
        public let subjectType: Person.Kind
        public let inactiveMonths: Int
        public let activityOf: ActivityOf
        public let leadStatuses: [String]?
        public let action: Action
        public let active: Bool
        public let lastRunAt: Date?
        public let createdBy: UUID?
        public let createdAt: Date
        public let updatedAt: Date
        public let revision: Int64
    }

    /// A policy's definition: what creating one takes, and what a change may replace.
    public struct Definition: Sendable {
        public var name: String
        public var subjectType: Person.Kind
        public var inactiveMonths: Int
        public var activityOf: ActivityOf
        public var leadStatuses: [String]?
        public var action: Action
        public var active: Bool

        public init(
            name: String, subjectType: Person.Kind, inactiveMonths: Int, activityOf: ActivityOf = .record,
            leadStatuses: [String]? = nil, action: Action = .erase, active: Bool = false
        ) {
            self.name = name
            self.subjectType = subjectType
            self.inactiveMonths = inactiveMonths
            self.activityOf = activityOf
            self.leadStatuses = leadStatuses
            self.action = action
            self.active = active
        }

        /// The rules the table's checks also hold, as field errors.
        public func problems() -> [FieldError] {
            var problems: [FieldError] = []
            if leadStatuses != nil && subjectType != .lead {
                problems.append(FieldError(field: "lead_statuses", message: "applies to lead policies only"))
            }
            if activityOf == .customer && subjectType != .contact {
                problems.append(FieldError(field: "activity_of", message: "customer applies to contact policies only"))
            }
            return problems
        }
    }

    let database: PostgresPool

    public init(database: PostgresPool) { self.database = database }

    static let columns = """
        id, name, subject_type, inactive_months, activity_of, array_to_json(lead_statuses)::text AS lead_statuses, action, active,
        last_run_at, created_by, created_at, updated_at, revision, (extract(epoch FROM created_at) * 1000000)::bigint AS created_at_us
        """

    static func policy(from row: Row) throws -> Policy {
        let statuses: String? = try row.decode("lead_statuses")
        return Policy(
            id: try row.decode("id"),
            name: try row.decode("name"),
            subjectType: try row.decode("subject_type", as: Person.Kind.self),
            inactiveMonths: try row.decode("inactive_months"),
            activityOf: try row.decode("activity_of", as: ActivityOf.self),
            leadStatuses: statuses.flatMap { JSONValue(json: $0)?.array?.compactMap(\.string) },
            action: try row.decode("action", as: Action.self),
            active: try row.decode("active"),
            lastRunAt: try row.decode("last_run_at"),
            createdBy: try row.decode("created_by"),
            createdAt: try row.decode("created_at"),
            updatedAt: try row.decode("updated_at"),
            revision: try row.decode("revision")
        )
    }

    public func create(_ definition: Definition, by actor: UUID) async throws -> Policy {
        let problems = definition.problems()
        guard problems.isEmpty else { throw DomainError.invalid(problems) }
        return try Self.policy(
            from: try await database.query(
                """
                INSERT INTO retention_policies (name, subject_type, inactive_months, activity_of, lead_statuses, action, active, created_by,
                                                updated_by)
                VALUES ($1, $2, $3, $4, $5::text[], $6, $7, $8, $8) RETURNING \(Self.columns)
                """,
                [
                    definition.name, definition.subjectType.rawValue, definition.inactiveMonths, definition.activityOf.rawValue,
                    definition.leadStatuses.map(ArrayLiteral.texts), definition.action.rawValue, definition.active, actor,
                ]
            ).single())
    }

    public func find(_ id: UUID) async throws -> Policy {
        try await Self.find(id, on: database)
    }

    static func find(_ id: UUID, on session: some Queryable) async throws -> Policy {
        guard let row = try await session.query("SELECT \(columns) FROM retention_policies WHERE id = $1", [id]).first else {
            throw DomainError.notFound(resource: "retention policy")
        }
        return try policy(from: row)
    }

    public func list(after cursor: Cursor?, limit: Int) async throws -> Page<Policy> {
        let rows = try await database.query(
            "SELECT \(Self.columns) FROM retention_policies WHERE \(Cursor.afterParameters1And2) ORDER BY created_at, id LIMIT $3",
            [cursor?.createdAtMicroseconds, cursor?.id, limit + 1])
        return try Page.keyset(rows, limit: limit, Self.policy(from:))
    }

    /// The dry run: whom the policy matches now (active or not), why, and who is exempt. The
    /// ids it lists are a read of those people, recorded in the audit trail.
    public func preview(_ policy: Policy, after: UUID?, limit: Int) async throws -> RetentionPreview.Page {
        let page = try await RetentionPreview.page(policy, after: after, limit: limit, on: database)
        try await AuditTrail.record(.list, object: "retention_policies", subjects: page.matches.map(\.subject.id))
        return page
    }

    /// The active policies, oldest first: what the privacy centre tells people.
    public func inForce() async throws -> [Policy] {
        try await Self.inForce(on: database)
    }

    static func inForce(on session: some Queryable) async throws -> [Policy] {
        try await session.query("SELECT \(columns) FROM retention_policies WHERE active ORDER BY created_at, id").map(policy(from:))
    }

    /// Replaces the definition under If-Match (`change` gets the current one to amend).
    public func update(
        _ id: UUID, expectedRevision: Int64?, by actor: UUID, _ change: @Sendable (inout Definition) -> Void
    ) async throws -> Policy {
        try await database.transaction { transaction in
            let current = try Self.policy(
                from: try await transaction.lockRow(
                    "retention_policies", id: id, selecting: Self.columns, resource: "retention policy", expectedRevision: expectedRevision)
            )
            var definition = Definition(
                name: current.name, subjectType: current.subjectType, inactiveMonths: current.inactiveMonths,
                activityOf: current.activityOf, leadStatuses: current.leadStatuses, action: current.action, active: current.active)
            change(&definition)
            let problems = definition.problems()
            guard problems.isEmpty else { throw DomainError.invalid(problems) }
            return try Self.policy(
                from: try await transaction.query(
                    """
                    UPDATE retention_policies SET name = $2, subject_type = $3, inactive_months = $4, activity_of = $5,
                        lead_statuses = $6::text[], action = $7, active = $8, updated_by = $9
                    WHERE id = $1 RETURNING \(Self.columns)
                    """,
                    [
                        id, definition.name, definition.subjectType.rawValue, definition.inactiveMonths, definition.activityOf.rawValue,
                        definition.leadStatuses.map(ArrayLiteral.texts), definition.action.rawValue, definition.active, actor,
                    ]
                ).single())
        }
    }
}
