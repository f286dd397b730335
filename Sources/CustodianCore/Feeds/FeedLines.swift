import Foundation
import Postgres

/// Writes feed lines byte by byte from the columns PostgreSQL sends as text: a feed of a million
/// records must cost little more than reading them. A record is written by the writer that
/// writes lists (`RecordTable.writeJSON`), so it has the single read's and the list's bytes: the
/// same members, keys and custom fields' keys sorted, timestamps in RFC 3339 UTC.
struct FeedLines {
    private let table: RecordTable
    private let alias: String

    /// Cells before the record's columns: the id served, whether the record is there, erased,
    /// restricted.
    static let leadingColumns = 4

    init(table: RecordTable, alias: String) {
        self.table = table
        self.alias = alias
    }

    /// The record's columns; results arrive in text form (each type's own output), and the bytes
    /// go into the line as they come.
    var selectList: String { table.selectList(alias: alias) }

    /// `{"op":"upsert","cursor":"…","record":{…}}` and a newline.
    func upsert(_ row: Row, cursor: FeedCursor, into output: inout [UInt8]) throws {
        output.append(contentsOf: Self.upsertStart)
        cursor.encode(into: &output)
        output.append(contentsOf: Self.recordStart)
        try table.writeJSON(of: row, from: Self.leadingColumns, to: &output)
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

    /// `{"op":"restricted","cursor":"…","id":"…"}` and a newline: stop processing the record
    /// (GDPR Art. 18); an `upsert` follows when the restriction is lifted.
    static func restricted(id: String, cursor: FeedCursor, into output: inout [UInt8]) {
        output.append(contentsOf: "{\"op\":\"restricted\",\"cursor\":\"".utf8)
        cursor.encode(into: &output)
        output.append(contentsOf: "\",\"id\":\"".utf8)
        output.append(contentsOf: id.utf8)
        output.append(contentsOf: "\"}\n".utf8)
    }

    private static let upsertStart = Array("{\"op\":\"upsert\",\"cursor\":\"".utf8)
    private static let recordStart = Array("\",\"record\":".utf8)
}
