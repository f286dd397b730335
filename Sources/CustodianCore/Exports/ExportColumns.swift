import Foundation
import Postgres

/// The personal-data map as an export reads it: per table, the columns marked `exported`, with the
/// SQL that turns a row into a JSON object (timestamps in RFC 3339 UTC with milliseconds, bytea in
/// hex), so PostgreSQL writes each row's JSON and the server passes it on as it comes.
struct ExportColumns: Sendable {
    struct Column: Sendable {
        let name: String
        let type: String
    }

    /// Exported columns per table, in the table's column order.
    let tables: [String: [Column]]
    /// How rows of a table belong to a person (from `personal_data_owners`).
    let owners: [String: [PersonalDataMap.Owner]]

    static func load(on session: some Queryable) async throws -> ExportColumns {
        let rows = try await session.query(
            """
            SELECT m.table_name, m.column_name, format_type(a.atttypid, NULL) AS type
            FROM personal_data_map m
            JOIN pg_class t ON t.relname = m.table_name AND t.relnamespace = 'public'::regnamespace
            JOIN pg_attribute a ON a.attrelid = t.oid AND a.attname = m.column_name AND NOT a.attisdropped
            WHERE m.exported
            ORDER BY m.table_name, a.attnum
            """
        )
        var tables: [String: [Column]] = [:]
        for row in rows {
            tables[try row.decode("table_name"), default: []].append(
                Column(name: try row.decode("column_name"), type: try row.decode("type")))
        }
        var owners: [String: [PersonalDataMap.Owner]] = [:]
        for row in try await session.query("SELECT table_name, subject, owner_column, kind_column FROM personal_data_owners") {
            owners[try row.decode("table_name"), default: []].append(
                PersonalDataMap.Owner(
                    subject: try row.decode("subject"), column: try row.decode("owner_column"), kindColumn: try row.decode("kind_column"))
            )
        }
        return ExportColumns(tables: tables, owners: owners)
    }

    /// A jsonb expression of the exported columns of `table`, for the row aliased `alias`.
    func json(of table: String, alias: String) -> String {
        Self.json(tables[table] ?? [], alias: alias)
    }

    static func json(_ columns: [Column], alias: String) -> String {
        guard !columns.isEmpty else { return "'{}'::jsonb" }
        let pairs = columns.map { column -> String in
            let value = "\(alias).\(PersonalDataMap.quoted(column.name))"
            let expression: String
            switch column.type {
            case "timestamp with time zone":
                expression = "to_char(\(value) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
            case "bytea":
                expression = "encode(\(value), 'hex')"
            case "xid8", "inet", "interval":
                expression = "\(value)::text"
            default:
                expression = value
            }
            return "'\(column.name.replacingOccurrences(of: "'", with: "''"))', \(expression)"
        }
        // jsonb_build_object takes at most 100 arguments.
        return stride(from: 0, to: pairs.count, by: 40).map { start in
            "jsonb_build_object(" + pairs[start..<min(start + 40, pairs.count)].joined(separator: ", ") + ")"
        }.joined(separator: " || ")
    }

    /// Writes rows of `table` (aliased `alias`) with its exported columns and `extra` members.
    func writer(of table: String, alias: String, extra: [ExportRowWriter.Member] = []) -> ExportRowWriter {
        ExportRowWriter(members: (tables[table] ?? []).map { ExportRowWriter.column($0.name, type: $0.type, alias: alias) } + extra)
    }

    /// The person's rows of a table: $1 lead ids, $2 contact ids, $3 customer ids.
    func ownedRows(of table: String, alias: String) -> String? {
        guard let owners = owners[table], !owners.isEmpty else { return nil }
        return PersonalDataMap.Table(name: table, owners: owners, columns: []).ownedRows(alias: alias)
    }
}
