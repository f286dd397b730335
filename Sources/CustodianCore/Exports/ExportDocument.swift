import Foundation
import JSONText
import Postgres

/// One export being written: the header, then each section the audience gets, every row as
/// PostgreSQL renders it to JSON. Runs inside the export's read-only snapshot.
struct ExportDocument {
    let prepared: PersonExports.Prepared
    let columns: ExportColumns
    let person: PersonRecords
    let header: JSONValue

    typealias Flush = (ArraySlice<UInt8>) async throws -> Void

    static func open(_ prepared: PersonExports.Prepared, on transaction: PostgresSession) async throws -> ExportDocument {
        let subject = prepared.subject
        var person = try await PersonRecords.find(subject.dataSubject, on: transaction)
        person.customers = []
        let facts = try await transaction.query(
            """
            SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS exported_at,
                   (SELECT controller_name FROM consent_settings) AS controller
            """
        ).single()
        let header: JSONValue = .object([
            "format_version": .string(PersonExports.formatVersion),
            "exported_at": .string(try facts.decode("exported_at", as: String.self)),
            "audience": .string(prepared.audience.rawValue),
            "controller": .object(["name": .string(try facts.decode("controller", as: String?.self))]),
            "subject": .object([
                "kind": .string(subject.kind.rawValue),
                "id": .uuid(subject.id),
                "lead_ids": .array(person.leads.map(JSONValue.uuid)),
                "contact_ids": .array(person.contacts.map(JSONValue.uuid)),
            ]),
            "sections": .array(prepared.sections.map(JSONValue.string)),
            "left_out": .array(prepared.leftOut.map(JSONValue.string)),
        ])
        return ExportDocument(prepared: prepared, columns: try await ExportColumns.load(on: transaction), person: person, header: header)
    }

    func write(into out: inout ChunkedOutput, on transaction: PostgresSession, flush: Flush) async throws {
        var header = String(decoding: header.serialized(), as: UTF8.self)
        header.removeLast() // the closing brace: the sections follow
        try await out.append(header, flush: flush)
        for section in prepared.sections {
            try await out.append(",\"\(section)\":", flush: flush)
            try await write(section, into: &out, on: transaction, flush: flush)
        }
        try await out.append("}", flush: flush)
    }

    private var isLead: Bool { prepared.subject.kind == .lead }
    private var ownTable: String { prepared.subject.kind.table }
    private var parameters: [any PostgresBindable] { person.parameters + [prepared.subject.id] }

    private func write(_ section: String, into out: inout ChunkedOutput, on transaction: PostgresSession, flush: Flush) async throws {
        switch section {
        case "profile":
            try await one(
                "SELECT (\(columns.json(of: ownTable, alias: "p")))::text AS row FROM \(ownTable) p WHERE p.id = $4", into: &out,
                on: transaction, flush: flush)
        case "customer":
            guard !isLead else { return try await out.append("null", flush: flush) }
            try await one(
                """
                SELECT (\(columns.json(of: "customers", alias: "c")))::text AS row
                FROM contacts k JOIN customers c ON c.id = k.customer_id WHERE k.id = $4 AND k.is_primary
                """, into: &out, on: transaction, flush: flush)
        case "custom_fields":
            try await one(
                """
                SELECT coalesce(jsonb_agg(jsonb_build_object('key', f.key, 'label', d.label, 'type', d.type, 'value', f.value)
                                          ORDER BY f.key), '[]')::text AS row
                FROM \(ownTable) p CROSS JOIN jsonb_each(p.custom_fields) f
                LEFT JOIN custom_field_definitions d ON d.entity = '\(prepared.subject.kind.resource)' AND d.key = f.key
                WHERE p.id = $4
                """, into: &out, on: transaction, flush: flush)
        case "notes":
            let parts = ["lead_notes", "contact_notes"].compactMap { table -> Part? in
                guard let owned = columns.ownedRows(of: table, alias: "n") else { return nil }
                let writer = columns.writer(of: table, alias: "n")
                return Part(sql: "SELECT \(writer.selectList) FROM \(table) n WHERE \(owned) ORDER BY n.created_at, n.id", writer: writer)
            }
            try await many(parts, into: &out, on: transaction, flush: flush)
        case "consents":
            try await writeConsents(into: &out, on: transaction, flush: flush)
        case "requests":
            guard let owned = columns.ownedRows(of: "request_cases", alias: "c") else { return try await out.append("[]", flush: flush) }
            let history = """
                coalesce((SELECT jsonb_agg(\(columns.json(of: "request_events", alias: "e")) ORDER BY e.recorded_at, e.id)
                          FROM request_events e WHERE e.case_id = c.id), '[]'::jsonb)::text
                """
            let writer = columns.writer(of: "request_cases", alias: "c", extra: [.value(key: "history", kind: .json, sql: history)])
            try await many(
                [Part(sql: "SELECT \(writer.selectList) FROM request_cases c WHERE \(owned) ORDER BY c.created_at, c.id", writer: writer)],
                into: &out, on: transaction, flush: flush)
        case "converted_from":
            guard !isLead else { return try await out.append("[]", flush: flush) }
            let writer = columns.writer(of: "leads", alias: "l")
            try await many(
                [
                    Part(
                        sql: "SELECT \(writer.selectList) FROM leads l WHERE l.converted_contact_id = $4 ORDER BY l.created_at, l.id",
                        writer: writer)
                ],
                into: &out, on: transaction, flush: flush)
        case "converted_to":
            guard isLead else { return try await out.append("null", flush: flush) }
            try await one(
                """
                SELECT jsonb_build_object('contact', \(columns.json(of: "contacts", alias: "k")), 'customer_id', k.customer_id)::text AS row
                FROM leads l JOIN contacts k ON k.id = l.converted_contact_id WHERE l.id = $4
                """, into: &out, on: transaction, flush: flush)
        default:
            // Another table holding the person's rows: its exported columns, row by row.
            guard let owned = columns.ownedRows(of: section, alias: "t") else { return try await out.append("[]", flush: flush) }
            let writer = columns.writer(of: section, alias: "t")
            try await many(
                [Part(sql: "SELECT \(writer.selectList) FROM \(PersonalDataMap.quoted(section)) t WHERE \(owned)", writer: writer)],
                into: &out, on: transaction, flush: flush)
        }
    }

    /// The state per purpose (with the text the person decided on), every decision, every link.
    private func writeConsents(into out: inout ChunkedOutput, on transaction: PostgresSession, flush: Flush) async throws {
        let own = prepared.subject.kind.consentColumn
        try await out.append("{\"state\":", flush: flush)
        try await one(
            """
            , states AS (
                SELECT p.id AS purpose_id, \(ConsentLedger.stateExpression()) AS state,
                       \(ConsentLedger.stateRecord("seq")) AS seq
                FROM consent_purposes p \(ConsentLedger.stateJoins(person: "$4::uuid"))
                WHERE latest.action IS NOT NULL
            )
            SELECT coalesce(jsonb_agg(jsonb_build_object(
                'purpose_id', x.purpose_id, 'purpose_version', x.purpose_version, 'name', v.name, 'description', v.description,
                'lawful_basis', v.lawful_basis, 'state', s.state,
                'decided_at', to_char(x.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'seq', x.seq
            ) ORDER BY x.purpose_id), '[]')::text AS row
            FROM states s
            JOIN consent_records x ON x.\(own) = $4 AND x.seq = s.seq
            JOIN consent_purpose_versions v ON v.purpose_id = x.purpose_id AND v.version = x.purpose_version
            """, into: &out, on: transaction, flush: flush)
        try await out.append(",\"history\":", flush: flush)
        let purpose = ExportRowWriter.Member.object(
            key: "purpose",
            members: [
                .value(key: "name", kind: .string, sql: "v.name"), .value(key: "description", kind: .string, sql: "v.description"),
                .value(key: "lawful_basis", kind: .string, sql: "v.lawful_basis"),
            ])
        let records = columns.writer(of: "consent_records", alias: "r", extra: [purpose])
        let history = columns.ownedRows(of: "consent_records", alias: "r").map { owned in
            Part(
                sql: """
                    SELECT \(records.selectList) FROM consent_records r
                    JOIN consent_purpose_versions v ON v.purpose_id = r.purpose_id AND v.version = r.purpose_version
                    WHERE \(owned)
                    ORDER BY r.lead_id NULLS LAST, r.contact_id, r.seq
                    """, writer: records)
        }
        try await many(history.map { [$0] } ?? [], into: &out, on: transaction, flush: flush)
        try await out.append(",\"links\":", flush: flush)
        let links = columns.writer(of: "consent_links", alias: "k")
        let linkRows = columns.ownedRows(of: "consent_links", alias: "k").map { owned in
            Part(sql: "SELECT \(links.selectList) FROM consent_links k WHERE \(owned) ORDER BY k.created_at, k.id", writer: links)
        }
        try await many(linkRows.map { [$0] } ?? [], into: &out, on: transaction, flush: flush)
        try await out.append("}", flush: flush)
    }

    /// A single JSON value (or null).
    private func one(_ sql: String, into out: inout ChunkedOutput, on transaction: PostgresSession, flush: Flush) async throws {
        let rows = try await transaction.query(Self.parameterTypes + sql, parameters)
        try await out.append(try rows.first?.decode("row", as: String?.self) ?? "null", flush: flush)
    }

    /// A query whose rows go into a section, and how to write them.
    struct Part {
        let sql: String
        let writer: ExportRowWriter
    }

    /// One JSON array of the rows of `parts`, each fetched through a cursor a batch at a time,
    /// the next batch read while this one is written.
    private func many(_ parts: [Part], into out: inout ChunkedOutput, on transaction: PostgresSession, flush: Flush) async throws {
        try await out.append("[", flush: flush)
        var first = true
        for part in parts {
            try await transaction.execute("DECLARE export_rows NO SCROLL CURSOR FOR " + Self.parameterTypes + part.sql, parameters)
            let fetch = "FETCH \(Self.batch) FROM export_rows"
            var next = Task { try await transaction.query(fetch) }
            while true {
                let rows = try await next.value
                let more = rows.count == Self.batch
                if more { next = Task { try await transaction.query(fetch) } }
                do {
                    for row in rows {
                        let comma = !first
                        try await out.append(flush: flush) { output in
                            if comma { output.append(UInt8(ascii: ",")) }
                            try part.writer.write(row, into: &output)
                        }
                        first = false
                    }
                } catch {
                    // The session serves one statement at a time: the fetch under way ends first.
                    if more { _ = try? await next.value }
                    throw error
                }
                if !more { break }
            }
            try await transaction.execute("CLOSE export_rows")
        }
        try await out.append("]", flush: flush)
    }

    static let batch = 2000

    /// Types all four parameters (lead, contact and customer ids; the subject), so that a
    /// statement may use only some of them.
    static let parameterTypes =
        "WITH export_person AS (SELECT $1::uuid[] AS leads, $2::uuid[] AS contacts, $3::uuid[] AS customers, $4::uuid AS subject) "
}
