import Foundation
import JSONText
import Postgres

/// Erasing the person of an erasure case (GDPR Art. 17): in one transaction, every row and value
/// the personal-data map names for them goes, a tombstone per record proves it happened (with no
/// personal value), their emails are suppressed as keyed hashes, downstream systems are told
/// (`subject.erased`, Art. 19) and the case completes. A crash at any point leaves the person whole.
public struct Erasures: Sendable {
    let database: PostgresPool
    let secrets: ServerSecrets

    public init(database: PostgresPool, secrets: ServerSecrets) {
        self.database = database
        self.secrets = secrets
    }

    /// What an erasure left behind: the tombstones, one per record erased.
    public struct Erasure: Sendable {
        public struct Tombstone: Sendable {
            public let subject: DataSubject
            /// The last record of the person's consent chain: a receipt they hold can still be
            /// checked against it.
            public let chainSeq: Int64?
            public let chainHash: [UInt8]?
        }

        public let reason: Reason
        /// The person the erasure was for (the case's subject, or the record a policy matched).
        public let subject: DataSubject
        public let erasedAt: Date
        public let erasedBy: UUID?
        public let tombstones: [Tombstone]
        /// Rows deleted or updated per table.
        public let counts: JSONValue

        public var requestID: UUID? { reason.requestID }
        public var retentionPolicyID: UUID? { reason.policyID }
    }

    public struct Outcome: Sendable {
        public let requestCase: RequestCases.Case
        public let erasure: Erasure
        /// The case had been erased already; nothing was done this time.
        public let alreadyDone: Bool
    }

    public func plan(forRequest id: UUID) async throws -> (requestCase: RequestCases.Case, plan: ErasurePlan) {
        try await database.transaction(isolation: .repeatableRead, readOnly: true) { transaction in
            let requestCase = try await RequestCases(database: database).find(id: id, on: transaction)
            guard requestCase.kind == .erasure else { throw Self.notAnErasure(requestCase) }
            let person = try await PersonRecords.find(requestCase.subject, on: transaction)
            let rules = try await PersonalDataMap.load(on: transaction)
            return (requestCase, try await ErasurePlan.compute(rules, for: person, on: transaction))
        }
    }

    public func erase(request id: UUID, by actor: UUID) async throws -> Outcome {
        try await database.transaction { transaction in
            let cases = RequestCases(database: database)
            let current = try await cases.lock(id, atRevision: nil, on: transaction)
            if let erasure = try await Self.erasure(of: current, on: transaction) {
                return Outcome(requestCase: current, erasure: erasure, alreadyDone: true)
            }
            try Self.checkErasable(current)
            let person = try await PersonRecords.lock(current.subject, on: transaction)
            let plan = try await Self.eraseLocked(
                person, subject: current.subject, reason: .request(current.id), by: actor, secrets: secrets, on: transaction)
            let completed = try await Self.complete(current, plan: plan, by: actor, cases: cases, on: transaction)
            guard let erasure = try await Self.erasure(of: completed, on: transaction) else {
                throw DomainError.conflict("the erasure left no tombstone")
            }
            try await Outbox.emit(.subjectErased, data: Self.eventData(erasure), subjectID: nil, on: transaction)
            return Outcome(requestCase: completed, erasure: erasure, alreadyDone: false)
        }
    }

    /// Why a person is erased: their erasure case, or a retention policy whose condition they met.
    public enum Reason: Sendable {
        case request(UUID)
        case policy(UUID)
        /// Re-applied from the erasure journal to a restored backup: the case or policy it came
        /// from, where the restored database holds it.
        case replayed(request: UUID?, policy: UUID?)

        var requestID: UUID? {
            switch self {
            case .request(let id): id
            case .replayed(let id, _): id
            case .policy: nil
            }
        }

        var policyID: UUID? {
            switch self {
            case .policy(let id): id
            case .replayed(_, let id): id
            case .request: nil
            }
        }
    }

    /// The erasure itself, on a person whose records the caller locked: tombstones, every table of
    /// the map, the primary-contact flag handed on, the emails suppressed. Fails whole when a
    /// count differs from the plan it computed under the locks, or when a legal hold is in force
    /// (the tombstones' trigger refuses). Returns that plan.
    static func eraseLocked(
        _ person: PersonRecords, subject: DataSubject, reason: Reason, by actor: UUID?, secrets: ServerSecrets,
        on transaction: PostgresSession
    ) async throws -> ErasurePlan {
        let rules = try await PersonalDataMap.load(on: transaction)
        let plan = try await ErasurePlan.compute(rules, for: person, countingValues: false, on: transaction)
        let emails = try await Suppressions.emails(of: person, on: transaction)
        let orphanedCustomers = try await transaction.query(
            PersonRecords.parameterTypes
                + "SELECT DISTINCT customer_id FROM contacts WHERE id = ANY ($2::uuid[]) AND is_primary AND customer_id <> ALL ($3::uuid[])",
            person.parameters
        ).map { try $0.decode("customer_id", as: UUID.self) }

        // The tombstones come first: the consent history's guard lets a person's rows go only
        // in the transaction that wrote their tombstone.
        try await bury(person, of: subject, reason: reason, counts: plan.counts, by: actor, on: transaction)
        for table in rules.tables {
            let planned = plan.tables.first { $0.table == table.name }
            let expected = planned.map { $0.action == .kept ? 0 : $0.rows } ?? 0
            let touched = try await ErasurePlan.apply(table, for: person, on: transaction)
            guard touched == expected else {
                throw DomainError.conflict("the person's data changed while they were being erased (\(table.name)); try again")
            }
        }
        try await handOnPrimary(of: orphanedCustomers, on: transaction)
        try await Suppressions.record(emails, with: secrets.current, on: transaction)
        return plan
    }

    static func checkErasable(_ requestCase: RequestCases.Case) throws {
        guard requestCase.kind == .erasure else { throw notAnErasure(requestCase) }
        switch requestCase.status {
        case .inProgress:
            break
        case .received:
            throw DomainError.conflict("the case is received: set its status to in_progress to work on it, then erase")
        case .completed, .refused, .cancelled:
            throw DomainError.conflict("the case is \(requestCase.status.rawValue): a closed case erases nothing")
        }
        if requestCase.verifiedAt == nil {
            throw DomainError.conflict(
                "the person's identity is not verified: record how it was checked (PATCH verification_method) before erasing")
        }
    }

    static func notAnErasure(_ requestCase: RequestCases.Case) -> DomainError {
        .conflict("this is an \(requestCase.kind.rawValue) case; only an erasure case erases (file one with kind erasure)")
    }

    /// One tombstone per record, each naming the reason; the subject carries the counts of the
    /// whole erasure.
    private static func bury(
        _ person: PersonRecords, of subject: DataSubject, reason: Reason, counts: JSONValue, by actor: UUID?,
        on transaction: PostgresSession
    ) async throws {
        let (requestID, policyID) = (reason.requestID, reason.policyID)
        try await transaction.execute(
            """
            WITH erased (subject_type, subject_id) AS (
                SELECT 'lead', unnest($1::uuid[]) UNION ALL SELECT 'contact', unnest($2::uuid[])
                UNION ALL SELECT 'customer', unnest($3::uuid[])
            ), heads AS (
                SELECT e.subject_id, h.seq, h.hash FROM erased e, LATERAL (
                    SELECT seq, hash FROM consent_records r WHERE r.lead_id = e.subject_id ORDER BY seq DESC LIMIT 1
                ) h WHERE e.subject_type = 'lead'
                UNION ALL
                SELECT e.subject_id, h.seq, h.hash FROM erased e, LATERAL (
                    SELECT seq, hash FROM consent_records r WHERE r.contact_id = e.subject_id ORDER BY seq DESC LIMIT 1
                ) h WHERE e.subject_type = 'contact'
            )
            INSERT INTO erasure_tombstones (subject_type, subject_id, erased_by, request_id, retention_policy_id, counts, chain_seq, chain_hash)
            SELECT e.subject_type, e.subject_id, $4, $5, $8, CASE WHEN e.subject_id = $6 THEN $7::jsonb ELSE '{}' END, h.seq, h.hash
            FROM erased e LEFT JOIN heads h USING (subject_id)
            """,
            person.parameters + [actor, requestID, subject.id, counts, policyID]
        )
    }

    /// Erasing a customer's primary contact hands the flag to its oldest remaining contact, as
    /// deleting one does.
    private static func handOnPrimary(of customers: [UUID], on transaction: PostgresSession) async throws {
        guard !customers.isEmpty else { return }
        try await transaction.execute(
            """
            UPDATE contacts SET is_primary = true
            WHERE id IN (
                SELECT DISTINCT ON (customer_id) id FROM contacts
                WHERE customer_id = ANY ($1::uuid[])
                ORDER BY customer_id, active DESC, created_at, id
            )
            """,
            [ArrayLiteral.uuids(customers)]
        )
    }

    private static func complete(
        _ current: RequestCases.Case, plan: ErasurePlan, by actor: UUID, cases: RequestCases, on transaction: PostgresSession
    ) async throws -> RequestCases.Case {
        let row = try await transaction.query(
            """
            UPDATE request_cases SET status = 'completed', closed_at = now(), updated_by = $2
            WHERE id = $1 RETURNING \(RequestCases.columns)
            """,
            [current.id, actor]
        ).single()
        let completed = try RequestCases.requestCase(from: row)
        var changes = RequestCases.differences(from: current, to: completed).object ?? [:]
        changes["erased_rows"] = plan.counts
        try await cases.record(completed.id, action: "erased", by: actor, changes: .object(changes), on: transaction)
        try await Outbox.emit(.requestUpdated, data: RequestCases.eventData(completed), subjectID: completed.subject.id, on: transaction)
        try await Outbox.emit(.requestCompleted, data: RequestCases.eventData(completed), subjectID: completed.subject.id, on: transaction)
        return completed
    }

    /// The erasure that completed this case, if there was one.
    static func erasure(of requestCase: RequestCases.Case, on session: some Queryable) async throws -> Erasure? {
        try await erasure(.request(requestCase.id), of: requestCase.subject, on: session)
    }

    /// The erasure of `subject` for `reason`, read from its tombstones.
    static func erasure(_ reason: Reason, of subject: DataSubject, on session: some Queryable) async throws -> Erasure? {
        let rows: QueryResult
        switch reason {
        case .request(let id):
            rows = try await session.query(
                "SELECT \(tombstoneColumns) FROM erasure_tombstones WHERE request_id = $1 ORDER BY subject_type, subject_id", [id])
        case .replayed:
            // Read in the replaying transaction: its own tombstones.
            rows = try await session.query(
                """
                SELECT \(tombstoneColumns) FROM erasure_tombstones WHERE erasing_xact = pg_current_xact_id()
                ORDER BY subject_type, subject_id
                """)
        case .policy(let id):
            // A policy erases many people: this one's tombstones are those of its transaction.
            rows = try await session.query(
                """
                SELECT \(tombstoneColumns) FROM erasure_tombstones
                WHERE retention_policy_id = $1 AND erasing_xact = (
                    SELECT erasing_xact FROM erasure_tombstones WHERE retention_policy_id = $1 AND subject_id = $2
                    ORDER BY erased_at DESC LIMIT 1)
                ORDER BY subject_type, subject_id
                """, [id, subject.id])
        }
        guard let first = rows.first else { return nil }
        var counts: JSONValue = .object([:])
        var tombstones: [Erasure.Tombstone] = []
        for row in rows {
            let erased = DataSubject(try row.decode("subject_type", as: DataSubject.Kind.self), id: try row.decode("subject_id"))
            if erased.id == subject.id { counts = try row.decode("counts", as: JSONValue.self) }
            tombstones.append(
                Erasure.Tombstone(subject: erased, chainSeq: try row.decode("chain_seq"), chainHash: try row.decode("chain_hash")))
        }
        return Erasure(
            reason: reason, subject: subject, erasedAt: try first.decode("erased_at"), erasedBy: try first.decode("erased_by"),
            tombstones: tombstones, counts: counts
        )
    }

    private static let tombstoneColumns = "subject_type, subject_id, erased_at, erased_by, counts, chain_seq, chain_hash"

    /// `subject.erased`: the ids of every record erased, for systems holding copies to erase
    /// theirs, and why: the case (`request_id`) or the retention policy (`retention_policy_id`).
    static func eventData(_ erasure: Erasure) -> JSONValue {
        .object([
            "request_id": .uuid(erasure.requestID),
            "retention_policy_id": .uuid(erasure.retentionPolicyID),
            "subject_type": .string(erasure.subject.kind.rawValue),
            "subject_id": .uuid(erasure.subject.id),
            "erased_at": .timestamp(erasure.erasedAt),
            "erased": .array(
                erasure.tombstones.map { .object(["subject_type": .string($0.subject.kind.rawValue), "subject_id": .uuid($0.subject.id)]) }),
        ])
    }
}
