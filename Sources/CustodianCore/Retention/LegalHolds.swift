import Foundation
import Postgres

/// Legal holds: a lead, contact or customer whose data must be kept (a dispute, an audit, a
/// court's order) whatever a retention policy or an erasure case says. The database refuses the
/// tombstone of a record under a hold in force, or of a contact whose customer is under one
/// (migration 0033), so no erasure passes it; lifting it takes a reason, and the history stays.
public struct LegalHolds: Sendable {
    public struct Hold: Sendable {
        public let id: UUID
        public let subject: DataSubject
        public let reason: String
        public let placedBy: UUID?
        public let placedAt: Date
        public let liftedBy: UUID?
        public let liftedAt: Date?
        public let liftReason: String?

        public var inForce: Bool { liftedAt == nil }
    }

    let database: PostgresPool

    public init(database: PostgresPool) { self.database = database }

    static let columns = """
        id, subject_type, subject_id, reason, placed_by, placed_at, lifted_by, lifted_at, lift_reason,
        (extract(epoch FROM placed_at) * 1000000)::bigint AS created_at_us
        """

    static func hold(from row: Row) throws -> Hold {
        Hold(
            id: try row.decode("id"),
            subject: DataSubject(try row.decode("subject_type", as: DataSubject.Kind.self), id: try row.decode("subject_id")),
            reason: try row.decode("reason"),
            placedBy: try row.decode("placed_by"),
            placedAt: try row.decode("placed_at"),
            liftedBy: try row.decode("lifted_by"),
            liftedAt: try row.decode("lifted_at"),
            liftReason: try row.decode("lift_reason")
        )
    }

    /// Places a hold on a record that exists (404 otherwise); several may be in force at once,
    /// each with its own reason.
    public func place(on subject: DataSubject, reason: String, by staffID: UUID) async throws -> Hold {
        try await database.transaction { transaction in
            guard try await transaction.query("SELECT 1 FROM \(subject.kind.table) WHERE id = $1 FOR KEY SHARE", [subject.id]).first != nil
            else { throw DomainError.notFound(resource: subject.kind.rawValue) }
            return try Self.hold(
                from: try await transaction.query(
                    "INSERT INTO legal_holds (subject_type, subject_id, reason, placed_by) VALUES ($1, $2, $3, $4) RETURNING \(Self.columns)",
                    [subject.kind.rawValue, subject.id, reason, staffID]
                ).single())
        }
    }

    /// Lifts the hold, with a reason; 409 when it was lifted already.
    public func lift(_ id: UUID, reason: String, by staffID: UUID) async throws -> Hold {
        try await database.transaction { transaction in
            guard let row = try await transaction.query("SELECT \(Self.columns) FROM legal_holds WHERE id = $1 FOR UPDATE", [id]).first
            else { throw DomainError.notFound(resource: "legal hold") }
            guard try Self.hold(from: row).inForce else { throw DomainError.conflict("this legal hold was lifted already") }
            return try Self.hold(
                from: try await transaction.query(
                    "UPDATE legal_holds SET lifted_at = now(), lifted_by = $2, lift_reason = $3 WHERE id = $1 RETURNING \(Self.columns)",
                    [id, staffID, reason]
                ).single())
        }
    }

    public func find(_ id: UUID) async throws -> Hold {
        guard let row = try await database.query("SELECT \(Self.columns) FROM legal_holds WHERE id = $1", [id]).first else {
            throw DomainError.notFound(resource: "legal hold")
        }
        let hold = try Self.hold(from: row)
        try await AuditTrail.record(.read, object: "legal_holds", subjects: [hold.subject.id])
        return hold
    }

    /// Holds, oldest first: all, or those of one record, or only those in force.
    public func list(subjectID: UUID?, inForceOnly: Bool, after cursor: Cursor?, limit: Int) async throws -> Page<Hold> {
        let rows = try await database.query(
            """
            SELECT \(Self.columns) FROM legal_holds
            WHERE (\(Cursor.afterParameters1And2.replacingOccurrences(of: "created_at", with: "placed_at")))
              AND ($3::uuid IS NULL OR subject_id = $3) AND (NOT $4 OR lifted_at IS NULL)
            ORDER BY placed_at, id
            LIMIT $5
            """,
            [cursor?.createdAtMicroseconds, cursor?.id, subjectID, inForceOnly, limit + 1]
        )
        let page = try Page.keyset(rows, limit: limit, Self.hold(from:))
        try await AuditTrail.record(.list, object: "legal_holds", subjects: Array(Set(page.items.map(\.subject.id))))
        return page
    }
}
