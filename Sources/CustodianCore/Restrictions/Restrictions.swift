import Foundation
import JSONText
import Postgres

/// Restriction of processing (GDPR Art. 18): a lead, contact or customer whose data is stored and
/// not processed until the restriction is lifted. The database enforces it (migration 0026): while
/// one is in force the record is not changed or deleted and staff add nothing about the person;
/// lists, searches, consenters lists and feeds leave the person out. This type sets, lifts and
/// reads them; every restriction stays in the person's history (and export) until an erasure.
public struct Restrictions: Sendable {
    /// The grounds of Art. 18(1).
    public enum Ground: String, Sendable, CaseIterable {
        /// (a) the person contests the accuracy of the data, while it is verified.
        case accuracyContested = "accuracy_contested"
        /// (b) the processing is unlawful and the person asks for restriction instead of erasure.
        case unlawfulProcessing = "unlawful_processing"
        /// (c) the controller no longer needs the data, but the person needs it for legal claims.
        case legalClaims = "legal_claims"
        /// (d) the person objected (Art. 21(1)), while it is decided whose grounds override.
        case objectionPending = "objection_pending"
    }

    public struct Restriction: Sendable {
        public let id: UUID
        public let subject: DataSubject
        public let ground: Ground
        public let reason: String
        public let requestID: UUID?
        public let setBy: UUID?
        public let setAt: Date
        public let liftedBy: UUID?
        public let liftedAt: Date?
        public let liftReason: String?

        public var inForce: Bool { liftedAt == nil }
    }

    let database: PostgresPool

    public init(database: PostgresPool) { self.database = database }

    static let columns = """
        id, subject_type, subject_id, ground, reason, request_id, set_by, set_at, lifted_by, lifted_at, lift_reason,
        (extract(epoch FROM set_at) * 1000000)::bigint AS created_at_us
        """

    static func restriction(from row: Row) throws -> Restriction {
        Restriction(
            id: try row.decode("id"),
            subject: DataSubject(try row.decode("subject_type", as: DataSubject.Kind.self), id: try row.decode("subject_id")),
            ground: try row.decode("ground", as: Ground.self),
            reason: try row.decode("reason"),
            requestID: try row.decode("request_id"),
            setBy: try row.decode("set_by"),
            setAt: try row.decode("set_at"),
            liftedBy: try row.decode("lifted_by"),
            liftedAt: try row.decode("lifted_at"),
            liftReason: try row.decode("lift_reason")
        )
    }

    /// Restricts the subject's processing; 409 when a restriction is in force already.
    public func set(_ subject: DataSubject, ground: Ground, reason: String, by staffID: UUID) async throws -> Restriction {
        try await database.transaction { transaction in
            try await Self.set(subject, ground: ground, reason: reason, request: nil, by: staffID, on: transaction)
        }
    }

    /// In the caller's transaction (completing a restriction case sets one and links the case).
    static func set(
        _ subject: DataSubject, ground: Ground, reason: String, request: UUID?, by staffID: UUID?, on transaction: PostgresSession
    ) async throws -> Restriction {
        _ = try await transaction.lockRow(subject.kind.table, id: subject.id, resource: subject.kind.rawValue, expectedRevision: nil)
        let rows: QueryResult
        do {
            rows = try await transaction.query(
                """
                INSERT INTO restrictions (subject_type, subject_id, ground, reason, request_id, set_by)
                VALUES ($1, $2, $3, $4, $5, $6) RETURNING \(columns)
                """,
                [subject.kind.rawValue, subject.id, ground.rawValue, reason, request, staffID])
        } catch let error as PostgresError where error.kind == .uniqueViolation {
            throw DomainError.conflict("this \(subject.kind.rawValue)'s processing is restricted already; lift that restriction first")
        }
        let restriction = try restriction(from: try rows.single())
        try await Outbox.emit(.subjectRestricted, data: eventData(restriction), subjectID: subject.id, on: transaction)
        return restriction
    }

    /// Lifts the restriction, with a reason; the person is told first (Art. 18(3)): the event
    /// `person.restriction_lifted` gives the mailer their address with the ground, in the same
    /// transaction as the lifting. 409 when it was lifted already.
    public func lift(_ id: UUID, reason: String, by staffID: UUID) async throws -> Restriction {
        try await database.transaction { transaction in
            try await Self.lift(id, reason: reason, by: staffID, on: transaction)
        }
    }

    /// In the caller's transaction (deciding an objection lifts the restriction it set).
    static func lift(_ id: UUID, reason: String, by staffID: UUID?, on transaction: PostgresSession) async throws -> Restriction {
        let rows = try await transaction.query("SELECT \(columns) FROM restrictions WHERE id = $1 FOR UPDATE", [id])
        guard let row = rows.first else { throw DomainError.notFound(resource: "restriction") }
        guard try restriction(from: row).inForce else { throw DomainError.conflict("this restriction was lifted already") }
        let lifted = try restriction(
            from: try await transaction.query(
                "UPDATE restrictions SET lifted_at = now(), lifted_by = $2, lift_reason = $3 WHERE id = $1 RETURNING \(columns)",
                [id, staffID, reason]
            ).single())
        var notice = eventData(lifted).object ?? [:]
        notice["email"] = .string(try await email(of: lifted.subject, on: transaction))
        try await Outbox.emit(.restrictionLiftedNotice, data: .object(notice), subjectID: lifted.subject.id, on: transaction)
        try await Outbox.emit(.subjectRestrictionLifted, data: eventData(lifted), subjectID: lifted.subject.id, on: transaction)
        return lifted
    }

    /// Where the notice of a lifting goes: the person's email (a customer has none of its own).
    private static func email(of subject: DataSubject, on session: some Queryable) async throws -> String? {
        guard subject.kind != .customer else { return nil }
        return try await session.query("SELECT email FROM \(subject.kind.table) WHERE id = $1", [subject.id]).first?.decode("email")
    }

    public func find(_ id: UUID) async throws -> Restriction {
        guard let row = try await database.query("SELECT \(Self.columns) FROM restrictions WHERE id = $1", [id]).first else {
            throw DomainError.notFound(resource: "restriction")
        }
        return try Self.restriction(from: row)
    }

    /// The restriction in force, if any.
    public func inForce(for subject: DataSubject) async throws -> Restriction? {
        try await Self.inForce(for: subject.id, on: database)
    }

    static func inForce(for subjectID: UUID, on session: some Queryable) async throws -> Restriction? {
        try await session.query("SELECT \(columns) FROM restrictions WHERE subject_id = $1 AND lifted_at IS NULL", [subjectID])
            .first.map(restriction(from:))
    }

    /// Every restriction of the subject, oldest first; 404 when there is no such record.
    public func history(of subject: DataSubject, after cursor: Cursor?, limit: Int) async throws -> Page<Restriction> {
        guard try await database.query("SELECT 1 FROM \(subject.kind.table) WHERE id = $1", [subject.id]).first != nil else {
            throw DomainError.notFound(resource: subject.kind.rawValue)
        }
        let rows = try await database.query(
            """
            SELECT \(Self.columns) FROM restrictions
            WHERE subject_id = $3 AND (\(Cursor.afterParameters1And2.replacingOccurrences(of: "created_at", with: "set_at")))
            ORDER BY set_at, id
            LIMIT $4
            """,
            [cursor?.createdAtMicroseconds, cursor?.id, subject.id, limit + 1]
        )
        return try Page.keyset(rows, limit: limit, Self.restriction(from:))
    }

    /// Ids, the ground and dates: what a downstream system needs to stop (or resume).
    static func eventData(_ restriction: Restriction) -> JSONValue {
        .object([
            "restriction_id": .uuid(restriction.id),
            "subject_type": .string(restriction.subject.kind.rawValue),
            "subject_id": .uuid(restriction.subject.id),
            "ground": .string(restriction.ground.rawValue),
            "set_at": .timestamp(restriction.setAt),
            "lifted_at": .timestamp(restriction.liftedAt),
        ])
    }

    /// Tells the database that what follows in this transaction is the person's own doing
    /// (through their link or account), which a restriction of their processing allows.
    static func actingAsThePerson(_ id: UUID, in transaction: PostgresSession) async throws {
        try await transaction.execute("SELECT set_config('custodian.acting_person', $1, true)", [id.lowercasedString])
    }

    /// SQL that is true for a row of `alias` (a lead, contact or customer) not restricted now: the
    /// record's `restricted`, which the restrictions' triggers keep (a list pays a column read).
    public static func notRestricted(_ alias: String) -> String { "NOT \(alias).restricted" }
}
