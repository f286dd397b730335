import Foundation
import Postgres

/// Notes staff write on leads, customers and contacts: append-only text with author and time.
public struct Notes: Sendable {
    /// Where the notes of one kind of record live. Names are fixed here, never taken from a request.
    public struct Kind: Sendable {
        let notesTable: String
        let ownerColumn: String
        let ownerTable: String
        public let resource: String

        public static let lead = Kind(notesTable: "lead_notes", ownerColumn: "lead_id", ownerTable: "leads", resource: "lead")
        public static let customer = Kind(
            notesTable: "customer_notes", ownerColumn: "customer_id", ownerTable: "customers", resource: "customer")
        public static let contact = Kind(
            notesTable: "contact_notes", ownerColumn: "contact_id", ownerTable: "contacts", resource: "contact")
    }

    public struct Note: Sendable {
        public let id: UUID
        public let body: String
        public let authorID: UUID?
        public let createdAt: Date
    }

    let database: PostgresPool

    public init(database: PostgresPool) { self.database = database }

    private static func note(from row: Row) throws -> Note {
        Note(
            id: try row.decode("id"), body: try row.decode("body"), authorID: try row.decode("author_id"),
            createdAt: try row.decode("created_at"))
    }

    public func add(_ body: String, to owner: UUID, kind: Kind, by author: UUID) async throws -> Note {
        let rows = try await database.query(
            """
            INSERT INTO \(kind.notesTable) (\(kind.ownerColumn), body, author_id)
            SELECT id, $2, $3 FROM \(kind.ownerTable) WHERE id = $1
            RETURNING id, body, author_id, created_at
            """,
            [owner, body, author]
        )
        guard let row = rows.first else { throw DomainError.notFound(resource: kind.resource) }
        return try Self.note(from: row)
    }

    /// Oldest first. One query answers whether the record exists and its page of notes.
    public func list(of owner: UUID, kind: Kind, after cursor: Cursor?, limit: Int) async throws -> Page<Note> {
        let rows = try await database.query(
            """
            SELECT o.id AS owner_id, n.id, n.body, n.author_id, n.created_at,
                   (extract(epoch FROM n.created_at) * 1000000)::bigint AS created_at_us
            FROM \(kind.ownerTable) o
            LEFT JOIN LATERAL (
                SELECT * FROM \(kind.notesTable) n
                WHERE n.\(kind.ownerColumn) = o.id
                  AND ($2::bigint IS NULL OR \(Cursor.condition(micros: "$2", id: "$3", alias: "n")))
                ORDER BY n.created_at, n.id
                LIMIT $4
            ) n ON true
            WHERE o.id = $1
            """,
            [owner, cursor?.createdAtMicroseconds, cursor?.id, limit + 1]
        )
        guard !rows.isEmpty else { throw DomainError.notFound(resource: kind.resource) }
        // A record without notes comes back as one row of NULLs from the LEFT JOIN.
        let noteRows = try rows.filter { try !$0.isNull("id") }
        return try Page.keyset(noteRows, limit: limit, Self.note(from:))
    }
}
