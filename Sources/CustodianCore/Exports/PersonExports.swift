import Foundation
import Postgres

/// A person's export (GDPR Art. 15, 20): one JSON document with everything held on them, read in
/// one snapshot and written out as it is read, so memory stays flat however long their history.
/// Which tables and columns go in comes from the personal-data map (owners and the `exported`
/// flag): a personal column or table a later migration adds appears without code changing here.
public struct PersonExports: Sendable {
    public enum Audience: String, Sendable {
        case staff, person
    }

    /// The document's format; its JSON Schema is served at `/v1/public/schemas/export`.
    public static let formatVersion = "custodian-export-2"

    /// Sections with a shape of their own; every other table holding the person's rows is a section
    /// named after the table.
    public static let namedSections = [
        "profile", "customer", "custom_fields", "notes", "consents", "requests", "converted_from", "converted_to",
    ]

    /// Tables the named sections read.
    static let tablesInNamedSections: Set<String> = [
        "leads", "contacts", "customers", "customer_notes", "lead_notes", "contact_notes", "consent_records", "consent_links",
        "request_cases",
    ]

    let database: PostgresPool

    public init(database: PostgresPool) { self.database = database }

    /// What one export will hold, decided before its first byte goes out.
    public struct Prepared: Sendable {
        public let subject: Person
        public let audience: Audience
        public let sections: [String]
        public let leftOut: [String]
    }

    /// Checks the person exists (404 otherwise) and which sections this audience gets.
    public func prepare(_ subject: Person, for audience: Audience) async throws -> Prepared {
        try await database.transaction(readOnly: true) { transaction in
            try await Self.prepare(subject, for: audience, on: transaction)
        }
    }

    static func prepare(_ subject: Person, for audience: Audience, on transaction: PostgresSession) async throws -> Prepared {
        if try await transaction.query("SELECT 1 FROM \(subject.kind.table) WHERE id = $1", [subject.id]).isEmpty {
            throw DomainError.notFound(resource: subject.kind.resource)
        }
        let all = Self.namedSections + (try await Self.otherTables(on: transaction))
        let settings = try await ExportSettings.current(on: transaction)
        let leftOut = Set(audience == .staff ? settings.staffLeftOut : settings.personLeftOut)
        return Prepared(
            subject: subject, audience: audience, sections: all.filter { !leftOut.contains($0) },
            leftOut: all.filter { leftOut.contains($0) })
    }

    /// Makes the person's export for a completed access or portability case, in the case's
    /// transaction (one snapshot: it runs at REPEATABLE READ), records it and keeps it with the
    /// case for the settings' `attachment_days`.
    static func attach(for subject: Person, toCase caseID: UUID, on transaction: PostgresSession) async throws {
        let prepared = try await prepare(subject, for: .person, on: transaction)
        var body: [UInt8] = []
        var out = ChunkedOutput()
        let document = try await ExportDocument.open(prepared, on: transaction)
        try await document.write(into: &out, on: transaction) { body.append(contentsOf: $0) }
        try await out.finish { body.append(contentsOf: $0) }
        let exportID = try await record(prepared, byteSize: body.count, by: nil, request: caseID, on: transaction)
        try await transaction.execute(
            """
            INSERT INTO request_attachments (case_id, subject_id, export_id, body, expires_at)
            SELECT $1, $2, $3, $4, now() + attachment_days * interval '1 day' FROM export_settings
            """,
            [caseID, subject.id, exportID, body]
        )
    }

    public struct Attachment: Sendable {
        public let subject: Person
        public let body: [UInt8]
    }

    /// The export kept with a case, while it is kept.
    public func attachment(of caseID: UUID) async throws -> Attachment {
        let rows = try await database.query(
            """
            SELECT a.body, e.subject_type, e.subject_id FROM request_attachments a JOIN exports e ON e.id = a.export_id
            WHERE a.case_id = $1 AND a.expires_at > now()
            """, [caseID])
        guard let row = rows.first else { throw DomainError.notFound(resource: "export of this request") }
        let id: UUID = try row.decode("subject_id")
        return Attachment(
            subject: try row.decode("subject_type", as: String.self) == "lead" ? .lead(id) : .contact(id), body: try row.decode("body"))
    }

    /// Removes the exports kept with cases past their time; returns how many.
    @Sendable public func removeExpiredAttachments() async throws -> Int {
        try await database.execute("DELETE FROM request_attachments WHERE expires_at <= now()")
    }

    /// Every section name an export can hold now: the named ones and the other tables with exported columns.
    public func sectionNames() async throws -> [String] {
        Self.namedSections + (try await database.transaction(readOnly: true) { try await Self.otherTables(on: $0) })
    }

    static func otherTables(on session: some Queryable) async throws -> [String] {
        let columns = try await ExportColumns.load(on: session)
        return columns.owners.keys.filter { !tablesInNamedSections.contains($0) && !(columns.tables[$0] ?? []).isEmpty }.sorted()
    }

    /// Writes the document through `write`, in chunks of about 64 KiB; returns its size in bytes.
    public func stream(_ prepared: Prepared, write: (ArraySlice<UInt8>) async throws -> Void) async throws -> Int {
        try await database.transaction(isolation: .repeatableRead, readOnly: true) { transaction in
            var out = ChunkedOutput()
            let document = try await ExportDocument.open(prepared, on: transaction)
            try await document.write(into: &out, on: transaction, flush: write)
            try await out.finish(write)
            return out.total
        }
    }

    /// Records an export made (who, for whom, what it held, its size).
    @discardableResult
    public func record(_ prepared: Prepared, byteSize: Int, by actor: UUID?) async throws -> UUID {
        try await Self.record(prepared, byteSize: byteSize, by: actor, request: nil, on: database)
    }

    static func record(_ prepared: Prepared, byteSize: Int, by actor: UUID?, request: UUID?, on session: some Queryable) async throws
        -> UUID
    {
        try await session.query(
            """
            INSERT INTO exports (subject_type, subject_id, audience, exported_by, request_id, sections, left_out, byte_size)
            VALUES ($1, $2, $3, $4, $5, $6::text[], $7::text[], $8) RETURNING id
            """,
            [
                prepared.subject.kind.rawValue, prepared.subject.id, prepared.audience.rawValue, actor, request,
                ArrayLiteral.texts(prepared.sections), ArrayLiteral.texts(prepared.leftOut), byteSize,
            ]
        ).single().decode("id")
    }

    public struct Record: Sendable {
        public let id: UUID
        public let audience: Audience
        public let exportedBy: UUID?
        public let requestID: UUID?
        public let sections: [String]
        public let leftOut: [String]
        public let byteSize: Int
        public let createdAt: Date
    }

    /// The exports made of this person, newest first.
    public func records(of subject: Person, after cursor: Cursor?, limit: Int) async throws -> Page<Record> {
        try await subject.requireExists(on: database)
        let rows = try await database.query(
            """
            SELECT id, audience, exported_by, request_id, array_to_json(sections)::text AS sections,
                   array_to_json(left_out)::text AS left_out, byte_size, created_at,
                   (extract(epoch FROM created_at) * 1000000)::bigint AS created_at_us
            FROM exports
            WHERE subject_id = $3 AND \(Cursor.afterParameters1And2)
            ORDER BY created_at, id
            LIMIT $4
            """,
            [cursor?.createdAtMicroseconds, cursor?.id, subject.id, limit + 1]
        )
        return try Page.keyset(rows, limit: limit) { row in
            func names(_ column: String) throws -> [String] {
                (try? JSONDecoder().decode([String].self, from: Data(try row.decode(column, as: String.self).utf8))) ?? []
            }
            return Record(
                id: try row.decode("id"), audience: try row.decode("audience", as: Audience.self),
                exportedBy: try row.decode("exported_by"), requestID: try row.decode("request_id"), sections: try names("sections"),
                leftOut: try names("left_out"), byteSize: try row.decode("byte_size"), createdAt: try row.decode("created_at")
            )
        }
    }
}

/// Bytes on their way out, sent in chunks of about 64 KiB.
struct ChunkedOutput {
    private var buffer: [UInt8] = []
    private(set) var total = 0
    static let chunkSize = 64 * 1024

    mutating func append(_ text: String, flush: (ArraySlice<UInt8>) async throws -> Void) async throws {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= Self.chunkSize { try await finish(flush) }
    }

    /// Lets `write` add bytes in place, then sends a full chunk.
    mutating func append(flush: (ArraySlice<UInt8>) async throws -> Void, _ write: (inout [UInt8]) throws -> Void) async throws {
        try write(&buffer)
        if buffer.count >= Self.chunkSize { try await finish(flush) }
    }

    mutating func finish(_ flush: (ArraySlice<UInt8>) async throws -> Void) async throws {
        guard !buffer.isEmpty else { return }
        total += buffer.count
        try await flush(buffer[...])
        buffer.removeAll(keepingCapacity: true)
    }
}
