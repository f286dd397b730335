import Foundation
import Postgres

/// Writes feed lines byte by byte from the columns PostgreSQL sends as text: a feed of a million
/// records must cost little more than reading them. A record comes out as the API's GET shows it
/// (`RecordTable.record(from:)`): the same members, timestamps in RFC 3339 UTC with milliseconds.
struct FeedLines {
    let table: RecordTable
    private let columns: [ColumnSpec]
    /// `"name":` of each column, ready to copy.
    private let keys: [[UInt8]]

    /// Cells before the record's columns: the id served, whether the record is there, erased.
    static let leadingColumns = 3

    init(table: RecordTable) {
        self.table = table
        columns = table.columns + table.readOnlyColumns
        keys = (columns.map(\.name) + ["custom_fields", "created_at", "updated_at"]).map { Array(",\"\($0)\":".utf8) }
    }

    /// The record's columns for the row aliased `alias`, in the order `write` reads them.
    func selectList(alias: String) -> String {
        // Results arrive in text form (each type's own output): the bytes go into the line as they come.
        (["id"] + columns.map(\.name) + ["custom_fields", "created_at", "updated_at"]).map { "\(alias).\($0)" }
            .joined(separator: ", ")
    }

    /// `{"op":"upsert","cursor":"…","record":{…}}` and a newline.
    func upsert(_ row: Row, cursor: FeedCursor, into output: inout [UInt8]) throws {
        output.append(contentsOf: Self.upsertStart)
        cursor.encode(into: &output)
        output.append(contentsOf: Self.recordStart)
        var index = Self.leadingColumns
        output.append(contentsOf: "\"id\":\"".utf8)
        output.append(contentsOf: try Self.required(row, index).utf8)
        output.append(UInt8(ascii: "\""))
        for (position, column) in columns.enumerated() {
            index += 1
            output.append(contentsOf: keys[position])
            guard let cell = row.text(at: index) else {
                output.append(contentsOf: Self.null)
                continue
            }
            switch column.kind {
            case .boolean: output.append(contentsOf: cell.utf8.first == UInt8(ascii: "t") ? Self.true : Self.false)
            case .timestamp: try PostgresTimestampText.write(cell, row: row, at: index, into: &output)
            case .text, .multilineText, .email, .countryCode, .reference: JSONValue.writeString(cell, to: &output)
            }
        }
        output.append(contentsOf: keys[columns.count])
        output.append(contentsOf: try Self.required(row, index + 1).utf8) // jsonb's text is JSON
        for (offset, key) in keys[(columns.count + 1)...].enumerated() {
            output.append(contentsOf: key)
            try PostgresTimestampText.write(try Self.required(row, index + 2 + offset), row: row, at: index + 2 + offset, into: &output)
        }
        output.append(contentsOf: "}}\n".utf8)
    }

    static func required(_ row: Row, _ index: Int) throws -> String {
        guard let text = row.text(at: index) else { throw DomainError.conflict("a required column is NULL") }
        return text
    }

    /// `{"op":"deleted"|"erased","cursor":"…","id":"…"}` and a newline.
    static func removal(erased: Bool, id: String, cursor: FeedCursor, into output: inout [UInt8]) {
        output.append(contentsOf: erased ? Array("{\"op\":\"erased\",\"cursor\":\"".utf8) : Array("{\"op\":\"deleted\",\"cursor\":\"".utf8))
        cursor.encode(into: &output)
        output.append(contentsOf: "\",\"id\":\"".utf8)
        output.append(contentsOf: id.utf8)
        output.append(contentsOf: "\"}\n".utf8)
    }

    private static let upsertStart = Array("{\"op\":\"upsert\",\"cursor\":\"".utf8)
    private static let recordStart = Array("\",\"record\":{".utf8)
    private static let null = Array("null".utf8)
    private static let `true` = Array("true".utf8)
    private static let `false` = Array("false".utf8)
}
