import Foundation
import JSONText
import Postgres

/// A list page as JSON text, `{"data": [...], "next_cursor": ...}`: the shape of every list.
public struct ListDocument: Sendable {
    public let bytes: [UInt8]
}

/// Records are written as JSON straight from the rows, by one writer for single reads, lists and
/// feeds: a `JSONValue` per record (a dictionary and a boxed value per member, then sorted and
/// written) cost more server time than the statement behind a page. `RecordListTests` holds the
/// three to the same bytes.
extension RecordTable {
    /// Where each member of a record's JSON comes from, in the order keys are written (sorted).
    struct JSONMember: Sendable {
        enum Source: Sendable {
            case id
            case column(position: Int, kind: ColumnSpec.Kind)
            case customFields
            case createdAt
            case updatedAt
        }

        /// `"name":`
        let key: [UInt8]
        let source: Source
    }

    static func jsonMembers(of readColumns: [ColumnSpec]) -> [JSONMember] {
        var members: [(String, JSONMember.Source)] = [("id", .id)]
        for (offset, column) in readColumns.enumerated() {
            members.append((column.name, .column(position: offset + 1, kind: column.kind)))
        }
        members += [("custom_fields", .customFields), ("created_at", .createdAt), ("updated_at", .updatedAt)]
        return members.sorted { $0.0 < $1.0 }.map { name, source in
            var key: [UInt8] = []
            JSONValue.writeString(name, to: &key)
            key.append(UInt8(ascii: ":"))
            return JSONMember(key: key, source: source)
        }
    }

    public func listDocument(_ filter: Filter, after cursor: Cursor?, limit: Int, on database: some Queryable) async throws
        -> ListDocument
    {
        let rows = try await listRows(filter, after: cursor, limit: limit, on: database)
        var output: [UInt8] = []
        output.reserveCapacity(64 + min(rows.count, limit) * 512)
        output.append(contentsOf: #"{"data":["#.utf8)
        for (index, row) in rows.prefix(limit).enumerated() {
            if index > 0 { output.append(UInt8(ascii: ",")) }
            try writeJSON(of: row, to: &output)
        }
        output.append(contentsOf: #"],"next_cursor":"#.utf8)
        if let next = try Cursor.next(rows, limit: limit) {
            JSONValue.writeString(next.token, to: &output)
        } else {
            output.append(contentsOf: "null".utf8)
        }
        output.append(UInt8(ascii: "}"))
        return ListDocument(bytes: output)
    }

    /// The record in `row` (read with `selectList`, from cell `firstCell` on) as the API shows it:
    /// keys sorted, custom fields' keys sorted, times in RFC 3339 UTC with milliseconds.
    func writeJSON(of row: Row, from firstCell: Int = 0, to output: inout [UInt8]) throws {
        let rest = firstCell + readColumns.count + 1
        guard row.columns.count == rest + 5 else {
            throw RowDecodingError.missingColumn("the columns of \(table)", available: row.columns.names)
        }
        let types = row.columns.types
        try row.withCellBytes { cells in
            output.append(UInt8(ascii: "{"))
            for (index, member) in jsonMembers.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                output.append(contentsOf: member.key)
                switch member.source {
                case .id:
                    try Self.writeUUID(row, cells, types, at: firstCell, to: &output)
                case .column(let offset, let kind):
                    let position = firstCell + offset
                    guard let cell = cells[position] else {
                        output.append(contentsOf: "null".utf8)
                        continue
                    }
                    switch kind {
                    case .text, .multilineText, .email, .countryCode:
                        JSONValue.writeString(cell: cell, to: &output)
                    case .boolean:
                        output.append(contentsOf: (try row.decode(at: position, as: Bool.self) ? "true" : "false").utf8)
                    case .reference:
                        try Self.writeUUID(row, cells, types, at: position, to: &output)
                    case .timestamp:
                        try Self.writeTimestamp(row, cells, at: position, to: &output)
                    }
                case .customFields:
                    // Re-sorted (jsonb orders keys by length): flat objects from their text,
                    // others through JSONValue.
                    if !(cells[rest].map { FlatJSONObject.writeSorted($0, to: &output) } ?? false) {
                        try row.decode(at: rest, as: JSONValue.self).write(to: &output)
                    }
                case .createdAt:
                    try Self.writeTimestamp(row, cells, at: rest + 2, to: &output)
                case .updatedAt:
                    try Self.writeTimestamp(row, cells, at: rest + 3, to: &output)
                }
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    /// PostgreSQL prints a uuid in lowercase with hyphens, as `lowercasedString` does: copied.
    private static func writeUUID(_ row: Row, _ cells: RowBytes, _ types: [PostgresType], at position: Int, to output: inout [UInt8])
        throws
    {
        output.append(UInt8(ascii: "\""))
        if types[position] == .uuid, let cell = cells[position], cell.count == 36 {
            output.append(contentsOf: cell)
        } else {
            output.append(contentsOf: try row.decode(at: position, as: UUID.self).lowercasedString.utf8)
        }
        output.append(UInt8(ascii: "\""))
    }

    private static func writeTimestamp(_ row: Row, _ cells: RowBytes, at position: Int, to output: inout [UInt8]) throws {
        guard let cell = cells[position] else { return output.append(contentsOf: "null".utf8) }
        try RFC3339.writeJSON(postgresText: cell, orDate: { try row.decode(at: position, as: Date.self) }, to: &output)
    }
}
