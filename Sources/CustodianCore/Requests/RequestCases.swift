import Foundation
import JSONText
import Postgres

/// Data-subject requests: one case per request, with the legal clock (due one calendar month
/// after receipt, extendable once by up to two), a status that only moves forward, and a history
/// of every change. Every change emits its event in the same transaction.
public struct RequestCases: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case access, rectification, erasure, restriction, portability, objection
    }

    public enum Channel: String, Sendable, CaseIterable {
        case staff, link
        case customerArea = "customer_area"
        case email, phone, letter
        case inPerson = "in_person"
    }

    public enum Status: String, Sendable, CaseIterable {
        case received
        case inProgress = "in_progress"
        case completed, refused, cancelled

        var isClosed: Bool { self == .completed || self == .refused || self == .cancelled }
    }

    public enum RefusalCode: String, Sendable, CaseIterable {
        case manifestlyUnfounded = "manifestly_unfounded"
        case excessive
        case freedomOfExpression = "art17_3_a"
        case legalObligation = "art17_3_b"
        case publicHealth = "art17_3_c"
        case archivingOrResearch = "art17_3_d"
        case legalClaims = "art17_3_e"
        case identityNotVerified = "identity_not_verified"
        case other
    }

    public enum VerificationMethod: String, Sendable, CaseIterable {
        case personalLink = "personal_link"
        case customerArea = "customer_area"
        case idDocument = "id_document"
        case emailConfirmation = "email_confirmation"
        case phoneCallback = "phone_callback"
        case inPerson = "in_person"
        case other
    }

    public struct Case: Sendable {
        public let id: UUID
        public let kind: Kind
        public let subject: DataSubject
        public let channel: Channel
        public let details: String?
        public let status: Status
        public let refusalCode: RefusalCode?
        public let refusalReason: String?
        public let receivedAt: Date
        public let dueAt: Date
        public let extensionMonths: Int
        public let extensionReason: String?
        public let extensionNotifiedAt: Date?
        public let verifiedAt: Date?
        public let verificationMethod: VerificationMethod?
        public let assigneeID: UUID?
        public let resolution: String?
        /// For a completed restriction case: the ground of the restriction it set.
        public let restrictionGround: Restrictions.Ground?
        public let closedAt: Date?
        public let overdue: Bool
        public let revision: Int64
        public let createdAt: Date
        public let updatedAt: Date
    }

    /// One entry of a case's history.
    public struct Event: Sendable {
        public let recordedAt: Date
        public let actorType: String
        public let actorID: UUID?
        public let action: String
        public let changes: JSONValue
    }

    let database: PostgresPool

    public init(database: PostgresPool) { self.database = database }

    static let columns = """
        id, kind, subject_type, subject_id, channel, details, status, refusal_code, refusal_reason, received_at, due_at,
        extension_months, extension_reason, extension_notified_at, verified_at, verification_method, assignee_id, resolution,
        restriction_ground, closed_at, status IN ('received', 'in_progress') AND due_at < now() AS overdue, revision, created_at, updated_at,
        (extract(epoch FROM created_at) * 1000000)::bigint AS created_at_us
        """

    static func requestCase(from row: Row) throws -> Case {
        Case(
            id: try row.decode("id"),
            kind: try row.decode("kind", as: Kind.self),
            subject: DataSubject(try row.decode("subject_type", as: DataSubject.Kind.self), id: try row.decode("subject_id")),
            channel: try row.decode("channel", as: Channel.self),
            details: try row.decode("details"),
            status: try row.decode("status", as: Status.self),
            refusalCode: try row.decode("refusal_code", as: RefusalCode?.self),
            refusalReason: try row.decode("refusal_reason"),
            receivedAt: try row.decode("received_at"),
            dueAt: try row.decode("due_at"),
            extensionMonths: try row.decode("extension_months"),
            extensionReason: try row.decode("extension_reason"),
            extensionNotifiedAt: try row.decode("extension_notified_at"),
            verifiedAt: try row.decode("verified_at"),
            verificationMethod: try row.decode("verification_method", as: VerificationMethod?.self),
            assigneeID: try row.decode("assignee_id"),
            resolution: try row.decode("resolution"),
            restrictionGround: try row.decode("restriction_ground", as: Restrictions.Ground?.self),
            closedAt: try row.decode("closed_at"),
            overdue: try row.decode("overdue"),
            revision: try row.decode("revision"),
            createdAt: try row.decode("created_at"),
            updatedAt: try row.decode("updated_at")
        )
    }

    /// The event payload: ids, kinds and dates, nothing the person wrote.
    static func eventData(_ requestCase: Case) -> JSONValue {
        .object([
            "request_id": .uuid(requestCase.id),
            "kind": .string(requestCase.kind.rawValue),
            "status": .string(requestCase.status.rawValue),
            "subject_type": .string(requestCase.subject.kind.rawValue),
            "subject_id": .uuid(requestCase.subject.id),
            "channel": .string(requestCase.channel.rawValue),
            "received_at": .timestamp(requestCase.receivedAt),
            "due_at": .timestamp(requestCase.dueAt),
            "closed_at": .timestamp(requestCase.closedAt),
        ])
    }

    public struct NewCase: Sendable {
        public var kind: Kind
        public var subject: DataSubject
        public var channel: Channel
        public var details: String?
        public var receivedAt: Date?
        public var assigneeID: UUID?
        public var verificationMethod: VerificationMethod?

        public init(
            kind: Kind, subject: DataSubject, channel: Channel, details: String?, receivedAt: Date? = nil,
            assigneeID: UUID? = nil, verificationMethod: VerificationMethod? = nil
        ) {
            self.kind = kind
            self.subject = subject
            self.channel = channel
            self.details = details
            self.receivedAt = receivedAt
            self.assigneeID = assigneeID
            self.verificationMethod = verificationMethod
        }
    }

    /// Opens a case, by a staff member (`actor`) or by the person through their link (nil).
    public func open(_ new: NewCase, by actor: UUID?) async throws -> Case {
        try await database.transaction { transaction in
            if try await transaction.query("SELECT 1 FROM \(new.subject.kind.table) WHERE id = $1", [new.subject.id]).isEmpty {
                throw DomainError.invalid([FieldError(field: "subject_id", message: "no such \(new.subject.kind.rawValue)")])
            }
            let row = try await translatingReferences {
                try await transaction.query(
                    """
                    INSERT INTO request_cases (kind, subject_type, subject_id, channel, details, received_at, assignee_id,
                                               verified_at, verification_method, created_by, updated_by)
                    VALUES ($1, $2, $3, $4, $5, coalesce($6, now()), $7, CASE WHEN $8::text IS NULL THEN NULL ELSE now() END, $8, $9, $9)
                    RETURNING \(Self.columns)
                    """,
                    [
                        new.kind.rawValue, new.subject.kind.rawValue, new.subject.id, new.channel.rawValue, new.details, new.receivedAt,
                        new.assigneeID, new.verificationMethod?.rawValue, actor,
                    ]
                ).single()
            }
            let opened = try Self.requestCase(from: row)
            try await record(
                opened.id, action: "received", by: actor,
                changes: .object(["status": .object(["from": .null, "to": .string(opened.status.rawValue)])]), on: transaction
            )
            try await Outbox.emit(.requestReceived, data: Self.eventData(opened), subjectID: opened.subject.id, on: transaction)
            if opened.kind == .objection, try await Restrictions.inForce(for: opened.subject.id, on: transaction) == nil {
                // An objection (Art. 21(1)) restricts processing while staff decide (Art. 18(1)(d)).
                _ = try await Restrictions.set(
                    opened.subject, ground: .objectionPending, reason: "the person objected; pending a decision", request: opened.id,
                    by: nil, on: transaction)
            }
            return opened
        }
    }

    public func find(id: UUID) async throws -> Case {
        try await find(id: id, on: database)
    }

    func find(id: UUID, on session: some Queryable) async throws -> Case {
        let rows = try await session.query("SELECT \(Self.columns) FROM request_cases WHERE id = $1", [id])
        guard let row = rows.first else { throw DomainError.notFound(resource: "request") }
        return try Self.requestCase(from: row)
    }

    public func history(of id: UUID) async throws -> [Event] {
        try await database.query(
            "SELECT recorded_at, actor_type, actor_id, action, changes FROM request_events WHERE case_id = $1 ORDER BY recorded_at, id",
            [id]
        ).map { row in
            Event(
                recordedAt: try row.decode("recorded_at"),
                actorType: try row.decode("actor_type"),
                actorID: try row.decode("actor_id"),
                action: try row.decode("action"),
                changes: try row.decode("changes", as: JSONValue.self)
            )
        }
    }

    public struct Filter: Sendable {
        public var status: Status?
        public var kind: Kind?
        public var subjectType: DataSubject.Kind?
        /// Any of these subjects (a person's lead and contact ids).
        public var subjectIDs: [UUID]?
        public var assigneeID: UUID?
        public var overdue: Bool?
        public var dueBefore: Date?

        public init() {}
    }

    public func list(_ filter: Filter, after cursor: Cursor?, limit: Int) async throws -> Page<Case> {
        let rows = try await database.query(
            """
            SELECT \(Self.columns) FROM request_cases
            WHERE \(Cursor.afterParameters1And2)
              AND ($3::text IS NULL OR status = $3)
              AND ($4::text IS NULL OR kind = $4)
              AND ($5::text IS NULL OR subject_type = $5)
              AND ($6::uuid[] IS NULL OR subject_id = ANY ($6))
              AND ($7::uuid IS NULL OR assignee_id = $7)
              AND ($8::boolean IS NULL OR (status IN ('received', 'in_progress') AND due_at < now()) = $8)
              AND ($9::timestamptz IS NULL OR due_at < $9)
            ORDER BY created_at, id
            LIMIT $10
            """,
            [
                cursor?.createdAtMicroseconds, cursor?.id, filter.status?.rawValue, filter.kind?.rawValue, filter.subjectType?.rawValue,
                filter.subjectIDs.map(ArrayLiteral.uuids), filter.assigneeID, filter.overdue, filter.dueBefore, limit + 1,
            ]
        )
        return try Page.keyset(rows, limit: limit, Self.requestCase(from:))
    }

    /// What a staff member changes on a case. Free texts are recorded in the history as changed,
    /// without their text.
    public struct Changes: Sendable {
        public var status: Status?
        public var assigneeID: UUID??
        public var verificationMethod: VerificationMethod??
        public var resolution: String??
        public var refusalCode: RefusalCode?
        public var refusalReason: String?
        public var extendMonths: Int?
        public var extensionReason: String?
        public var extensionNotifiedAt: Date??
        /// Completing a restriction case restricts the person on this ground.
        public var restrictionGround: Restrictions.Ground?

        public init() {}
    }

    public func update(id: UUID, _ changes: Changes, expectedRevision: Int64?, by actor: UUID) async throws -> Case {
        // Completing may attach the person's export, which must be read in one snapshot.
        try await database.transaction(isolation: changes.status == .completed ? .repeatableRead : .readCommitted) { transaction in
            let current = try await lock(id, atRevision: expectedRevision, on: transaction)
            try Self.check(changes, against: current)
            let closing = changes.status.map { $0.isClosed && !current.status.isClosed } ?? false
            let row = try await translatingReferences {
                try await transaction.query(
                    """
                    UPDATE request_cases SET
                        status = coalesce($2, status),
                        assignee_id = CASE WHEN $3 THEN $4 ELSE assignee_id END,
                        verification_method = CASE WHEN $5 THEN $6 ELSE verification_method END,
                        verified_at = CASE WHEN NOT $5 THEN verified_at WHEN $6::text IS NULL THEN NULL ELSE now() END,
                        resolution = CASE WHEN $7 THEN $8 ELSE resolution END,
                        refusal_code = coalesce($9, refusal_code),
                        refusal_reason = coalesce($10, refusal_reason),
                        extension_months = coalesce($11, extension_months),
                        extension_reason = coalesce($12, extension_reason),
                        extension_notified_at = CASE WHEN $13 THEN $14 ELSE extension_notified_at END,
                        closed_at = CASE WHEN $15 THEN now() ELSE closed_at END,
                        updated_by = $16,
                        restriction_ground = coalesce($17, restriction_ground)
                    WHERE id = $1
                    RETURNING \(Self.columns)
                    """,
                    [
                        id, changes.status?.rawValue,
                        changes.assigneeID != nil, changes.assigneeID ?? nil,
                        changes.verificationMethod != nil, (changes.verificationMethod ?? nil)?.rawValue,
                        changes.resolution != nil, changes.resolution ?? nil,
                        changes.refusalCode?.rawValue, changes.refusalReason, changes.extendMonths, changes.extensionReason,
                        changes.extensionNotifiedAt != nil, changes.extensionNotifiedAt ?? nil,
                        closing, actor, changes.restrictionGround?.rawValue,
                    ]
                ).single()
            }
            let updated = try Self.requestCase(from: row)
            if updated.status == .completed && current.status != .completed && [.access, .portability].contains(updated.kind),
                // A customer is a company, not a person: nothing of a person to export.
                let person = updated.subject.person
            {
                try await PersonExports.attach(for: person, toCase: updated.id, on: transaction)
            }
            if updated.status == .completed && current.status != .completed && updated.kind == .restriction,
                let ground = updated.restrictionGround
            {
                // Granting the request is restricting: the restriction names the case.
                _ = try await Restrictions.set(
                    updated.subject, ground: ground, reason: updated.resolution ?? "the person's request",
                    request: updated.id, by: actor, on: transaction)
            }
            if closing && updated.kind == .objection,
                let pending = try await Restrictions.inForce(for: updated.subject.id, on: transaction), pending.requestID == updated.id
            {
                // Staff decided the objection: the restriction it set while pending ends, with the
                // decision as its reason (what the decision requires next is the staff's to do).
                _ = try await Restrictions.lift(
                    pending.id, reason: updated.resolution ?? updated.refusalReason ?? "the objection was decided", by: actor,
                    on: transaction)
            }
            try await settle(updated, from: current, by: actor, on: transaction)
            return updated
        }
    }

    /// Records the change in the history and emits `request.updated` (and `request.completed`).
    func settle(_ updated: Case, from current: Case, by actor: UUID?, on transaction: PostgresSession) async throws {
        let changes = Self.differences(from: current, to: updated)
        try await record(updated.id, action: "updated", by: actor, changes: changes, on: transaction)
        try await Outbox.emit(.requestUpdated, data: Self.eventData(updated), subjectID: updated.subject.id, on: transaction)
        if updated.status == .completed && current.status != .completed {
            try await Outbox.emit(.requestCompleted, data: Self.eventData(updated), subjectID: updated.subject.id, on: transaction)
        }
    }

    func lock(_ id: UUID, atRevision expectedRevision: Int64?, on transaction: PostgresSession) async throws -> Case {
        try Self.requestCase(
            from: try await transaction.lockRow(
                "request_cases", id: id, selecting: Self.columns, resource: "request", expectedRevision: expectedRevision))
    }

    /// The rules a change must keep, said with the field at fault; the database holds them too.
    static func check(_ changes: Changes, against current: Case) throws {
        var problems: [FieldError] = []
        if let status = changes.status, status != current.status {
            let rank: (Status) -> Int = { $0 == .received ? 0 : $0 == .inProgress ? 1 : 2 }
            if current.status.isClosed || rank(status) < rank(current.status) {
                problems.append(
                    FieldError(field: "status", message: "moves forward only: \(current.status.rawValue) cannot become \(status.rawValue)"))
            }
            if status == .refused && changes.refusalCode == nil {
                problems.append(FieldError(field: "refusal_code", message: "is required to refuse"))
            }
            if status == .completed && current.kind == .erasure {
                problems.append(
                    FieldError(field: "status", message: "an erasure case is completed by erasing: POST /v1/requests/{id}/erase"))
            }
            let method = changes.verificationMethod.map { $0 } ?? current.verificationMethod
            if status == .completed && [.access, .portability].contains(current.kind) && method == nil {
                // The answer holds the person's data: it goes only to someone known to be them.
                problems.append(
                    FieldError(
                        field: "verification_method",
                        message: "the person's identity is not verified: record how it was checked before completing an "
                            + "\(current.kind.rawValue) case"))
            }
            if status == .completed && current.kind == .restriction && changes.restrictionGround == nil {
                problems.append(
                    FieldError(field: "restriction_ground", message: "is required to complete a restriction case: the ground of Art. 18(1)")
                )
            }
            if status == .completed && (changes.resolution ?? current.resolution) == nil {
                problems.append(FieldError(field: "resolution", message: "is required to complete a case: say what was done"))
            }
        }
        if changes.restrictionGround != nil && (changes.status != .completed || current.kind != .restriction) {
            problems.append(FieldError(field: "restriction_ground", message: "goes with completing a restriction case"))
        }
        if (changes.refusalCode != nil || changes.refusalReason != nil) && changes.status != .refused {
            problems.append(FieldError(field: "refusal_code", message: "goes with status refused"))
        }
        if changes.refusalCode != nil && changes.refusalReason == nil {
            problems.append(FieldError(field: "refusal_reason", message: "is required with a refusal code"))
        }
        if let months = changes.extendMonths {
            if current.extensionMonths > 0 {
                problems.append(FieldError(field: "extend_months", message: "a case is extended once; it was extended already"))
            } else if !(1...2).contains(months) {
                problems.append(FieldError(field: "extend_months", message: "must be 1 or 2"))
            }
            if changes.extensionReason == nil {
                problems.append(FieldError(field: "extension_reason", message: "is required to extend"))
            }
            if current.status.isClosed {
                problems.append(FieldError(field: "extend_months", message: "a closed case is not extended"))
            }
        } else if changes.extensionReason != nil {
            problems.append(FieldError(field: "extension_reason", message: "goes with extend_months"))
        }
        if current.status.isClosed && changes.status == nil
            && (changes.resolution != nil || changes.assigneeID != nil || changes.verificationMethod != nil)
        {
            problems.append(FieldError(field: "status", message: "the case is \(current.status.rawValue): it does not change any more"))
        }
        if !problems.isEmpty { throw DomainError.invalid(problems) }
    }

    /// Old and new values per field that changed; free texts only as `{"changed": true}`.
    static func differences(from old: Case, to new: Case) -> JSONValue {
        var changes: [String: JSONValue] = [:]
        func compare(_ field: String, _ before: JSONValue, _ after: JSONValue) {
            if before != after { changes[field] = .object(["from": before, "to": after]) }
        }
        func compareText(_ field: String, _ before: String?, _ after: String?) {
            if before != after { changes[field] = .object(["changed": .bool(true)]) }
        }
        compare("status", .string(old.status.rawValue), .string(new.status.rawValue))
        compare("assignee_id", .uuid(old.assigneeID), .uuid(new.assigneeID))
        compare("verification_method", .string(old.verificationMethod?.rawValue), .string(new.verificationMethod?.rawValue))
        compare("refusal_code", .string(old.refusalCode?.rawValue), .string(new.refusalCode?.rawValue))
        compare("extension_months", .integer(old.extensionMonths), .integer(new.extensionMonths))
        compare("due_at", .timestamp(old.dueAt), .timestamp(new.dueAt))
        compare("extension_notified_at", .timestamp(old.extensionNotifiedAt), .timestamp(new.extensionNotifiedAt))
        compareText("resolution", old.resolution, new.resolution)
        compareText("refusal_reason", old.refusalReason, new.refusalReason)
        compareText("extension_reason", old.extensionReason, new.extensionReason)
        return .object(changes)
    }

    func record(_ caseID: UUID, action: String, by actor: UUID?, changes: JSONValue, on transaction: PostgresSession) async throws {
        try await transaction.execute(
            "INSERT INTO request_events (case_id, actor_type, actor_id, action, changes) VALUES ($1, $2, $3, $4, $5)",
            [caseID, actor == nil ? "person" : "staff", actor, action, changes]
        )
    }

    private func translatingReferences<Result>(_ body: () async throws -> Result) async throws -> Result {
        do {
            return try await body()
        } catch let error as PostgresError where error.kind == .foreignKeyViolation {
            throw DomainError.invalid([FieldError(field: "assignee_id", message: "no such staff member")])
        }
    }

    /// Sends `request.due_soon` (seven days or less left) and `request.overdue`, once per case.
    @discardableResult
    public func announceDeadlines() async throws -> Int {
        try await database.transaction { transaction in
            let rows = try await transaction.query(
                """
                WITH due AS (
                    SELECT c.id, CASE WHEN c.due_at <= now() THEN 'overdue' ELSE 'due_soon' END AS notice
                    FROM request_cases c
                    WHERE c.status IN ('received', 'in_progress') AND c.due_at <= now() + interval '7 days'
                ), noted AS (
                    INSERT INTO request_notices (case_id, notice) SELECT id, notice FROM due
                    ON CONFLICT DO NOTHING RETURNING case_id, notice
                )
                SELECT noted.notice, \(Self.columns)
                FROM noted JOIN request_cases ON request_cases.id = noted.case_id
                """
            )
            for row in rows {
                let due = try Self.requestCase(from: row)
                let event: EventType = try row.decode("notice", as: String.self) == "overdue" ? .requestOverdue : .requestDueSoon
                try await Outbox.emit(event, data: Self.eventData(due), subjectID: due.subject.id, on: transaction)
            }
            return rows.count
        }
    }
}
