import Foundation
import HTTPTypes
import Postgres
import TestSupport
import Testing

/// What the erasure tests look at in the database, as the superuser: every stored value, and
/// row counts per table.
enum DatabaseInspection {
    /// `table.column` for every text, JSON, array or bytea column of every table holding one of
    /// `needles` (case-insensitively, bytea byte for byte).
    static func occurrences(of needles: [String], in pool: PostgresPool) async throws -> [String] {
        let columns = try await pool.query(
            """
            SELECT c.table_name, c.column_name, c.data_type
            FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name)
            WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
              AND c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'ARRAY', 'bytea')
            ORDER BY 1, 2
            """
        )
        var found: [String] = []
        for column in columns {
            let table: String = try column.decode("table_name")
            let name: String = try column.decode("column_name")
            let identifier = "\"\(table)\".\"\(name)\""
            for needle in needles {
                let condition =
                    try column.decode("data_type", as: String.self) == "bytea"
                    ? "position(convert_to($1, 'UTF8') in \(identifier)) > 0"
                    : "strpos(lower(\(identifier)::text), lower($1)) > 0"
                let hits: Int = try await pool.query("SELECT count(*) AS n FROM \"\(table)\" WHERE \(condition)", [needle]).single()
                    .decode("n")
                if hits > 0 { found.append("\(table).\(name) holds \(needle)") }
            }
        }
        return found
    }

    static func rowCounts(in pool: PostgresPool) async throws -> [String: Int] {
        let tables = try await pool.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        ).map { try $0.decode("table_name", as: String.self) }
        var counts: [String: Int] = [:]
        for table in tables {
            counts[table] = try await pool.query("SELECT count(*) AS n FROM \"\(table)\"").single().decode("n")
        }
        return counts
    }

    /// The rows of `table` where `column` is `id`, as JSON text in a stable order: to compare a
    /// neighbour's data before and after.
    static func rows(of table: String, where column: String, is id: String, in pool: PostgresPool) async throws -> [String] {
        try await pool.query(
            "SELECT to_jsonb(t)::text AS row FROM \"\(table)\" t WHERE \"\(column)\" = $1::uuid ORDER BY to_jsonb(t)::text", [id]
        ).map { try $0.decode("row", as: String.self) }
    }
}

extension ContractClient {
    /// Takes an erasure case on: in progress, with the person's identity verified.
    func startErasure(_ id: String, key: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let ready = try await send(
            .patch, "/v1/requests/\(id)", headers: headers(key: key, json: true),
            body: #"{"status": "in_progress", "verification_method": "id_document"}"#, sourceLocation: sourceLocation
        )
        #expect(ready.status == .ok, "\(ready.text)", sourceLocation: sourceLocation)
    }

    func openErasure(subjectType: String, subjectID: String, key: String, details: String = "Please erase me.") async throws -> String {
        try #require(
            try await create(
                "/v1/requests", key: key,
                #"{"kind": "erasure", "subject_type": "\#(subjectType)", "subject_id": "\#(subjectID)", "channel": "email", "details": "\#(details)"}"#
            )["id"] as? String)
    }
}
