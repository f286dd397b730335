import Foundation
import Postgres

/// Writes feed lines byte by byte from the columns PostgreSQL sends as text: a feed of a million
/// records must cost little more than reading them. A record comes out as the API's GET shows it
/// (`RecordTable.record(from:)`): the same members, timestamps in RFC 3339 UTC with milliseconds.
struct FeedLines {
    /// The record's members, in the order the select list reads them.
    private let record: ExportRowWriter

    /// Cells before the record's columns: the id served, whether the record is there, erased.
    static let leadingColumns = 3

    init(table: RecordTable, alias: String) {
        func member(_ name: String, _ kind: ExportRowWriter.Kind) -> ExportRowWriter.Member {
            .value(key: name, kind: kind, sql: "\(alias).\(name)")
        }
        let columns = (table.columns + table.readOnlyColumns).map { column -> ExportRowWriter.Member in
            switch column.kind {
            case .boolean: member(column.name, .boolean)
            case .timestamp: member(column.name, .timestamp)
            case .text, .multilineText, .email, .countryCode, .reference: member(column.name, .string)
            }
        }
        record = ExportRowWriter(
            members: [member("id", .string)] + columns + [
                member("custom_fields", .json), member("created_at", .timestamp), member("updated_at", .timestamp),
            ])
    }

    /// The record's columns; results arrive in text form (each type's own output), and the bytes
    /// go into the line as they come.
    var selectList: String { record.selectList }

    /// `{"op":"upsert","cursor":"…","record":{…}}` and a newline.
    func upsert(_ row: Row, cursor: FeedCursor, into output: inout [UInt8]) throws {
        output.append(contentsOf: Self.upsertStart)
        cursor.encode(into: &output)
        output.append(contentsOf: Self.recordStart)
        try record.write(row, from: Self.leadingColumns, into: &output)
        output.append(contentsOf: "}\n".utf8)
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
    private static let recordStart = Array("\",\"record\":".utf8)
}
