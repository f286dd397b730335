import Foundation
import JSONText
import Postgres

/// Writes rows as JSON objects from the text PostgreSQL sends, byte by byte: a history of ten
/// thousand consent records goes out at nearly the speed PostgreSQL reads it, where building each
/// row's JSON in SQL (`json_build_object` looks up every argument's type on every call) costs
/// several times more.
struct ExportRowWriter: Sendable {
    enum Kind: Sendable {
        case string, number, boolean, timestamp, bytea, json
    }

    indirect enum Member: Sendable {
        /// A value: its key, how to write it, and the SQL that selects it.
        case value(key: String, kind: Kind, sql: String)
        /// A nested object of members.
        case object(key: String, members: [Member])
    }

    let members: [Member]

    /// The expressions to select, in the order `write` reads them.
    var selectList: String { Self.expressions(members).joined(separator: ", ") }

    private static func expressions(_ members: [Member]) -> [String] {
        members.flatMap { member -> [String] in
            switch member {
            case .value(_, _, let sql): [sql]
            case .object(_, let nested): expressions(nested)
            }
        }
    }

    /// The column `name` of the row aliased `alias`, whose PostgreSQL type is `type`.
    static func column(_ name: String, type: String, alias: String) -> Member {
        let value = "\(alias).\(PersonalDataMap.quoted(name))"
        let kind: Kind
        // Results arrive in text form: each type's own output, read as it comes.
        var sql = value
        switch type {
        case "timestamp with time zone": kind = .timestamp
        case "bytea": kind = .bytea
        case "boolean": kind = .boolean
        case "smallint", "integer", "bigint": kind = .number
        case "json", "jsonb": kind = .json
        case _ where type.hasSuffix("[]") || type == "numeric" || type == "real" || type == "double precision":
            // Arrays as JSON arrays; numbers as to_json writes them (NaN as a string).
            kind = .json
            sql = "to_json(\(value))::text"
        default: kind = .string
        }
        return .value(key: name, kind: kind, sql: sql)
    }

    /// Writes the members read from the row's cells from `firstCell` on.
    func write(_ row: Row, from firstCell: Int = 0, into output: inout [UInt8]) throws {
        var index = firstCell
        try Self.write(members, row: row, index: &index, into: &output)
    }

    private static func write(_ members: [Member], row: Row, index: inout Int, into output: inout [UInt8]) throws {
        output.append(UInt8(ascii: "{"))
        for (position, member) in members.enumerated() {
            if position > 0 { output.append(UInt8(ascii: ",")) }
            switch member {
            case .value(let key, let kind, _):
                JSONValue.writeString(key, to: &output)
                output.append(UInt8(ascii: ":"))
                try writeValue(kind, row: row, at: index, into: &output)
                index += 1
            case .object(let key, let nested):
                JSONValue.writeString(key, to: &output)
                output.append(UInt8(ascii: ":"))
                try write(nested, row: row, index: &index, into: &output)
            }
        }
        output.append(UInt8(ascii: "}"))
    }

    private static func writeValue(_ kind: Kind, row: Row, at index: Int, into output: inout [UInt8]) throws {
        guard let text = row.text(at: index) else {
            output.append(contentsOf: "null".utf8)
            return
        }
        switch kind {
        case .string: JSONValue.writeString(text, to: &output)
        case .number, .json: output.append(contentsOf: text.utf8)
        case .boolean: output.append(contentsOf: (text.utf8.first == UInt8(ascii: "t") ? "true" : "false").utf8)
        case .timestamp:
            var text = text
            try text.withUTF8 { try RFC3339.writeJSON(postgresText: $0, orDate: { try row.decode(at: index, as: Date.self) }, to: &output) }
        case .bytea:
            // bytea_output is hex: `\x` and the digits.
            output.append(UInt8(ascii: "\""))
            output.append(contentsOf: text.utf8.dropFirst(2))
            output.append(UInt8(ascii: "\""))
        }
    }
}
