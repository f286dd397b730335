import Foundation

extension RFC3339 {
    /// A `timestamptz` cell, as PostgreSQL sent it, written as a JSON string the way
    /// `string(from:)` writes its instant (`"2026-11-30T00:49:33.123Z"`): converted from the text
    /// where it has the form every session prints (`2026-11-30 00:49:33.1234+00`), else through
    /// `date()`. The one conversion every writer of records and exports uses.
    public static func writeJSON(
        postgresText bytes: UnsafeBufferPointer<UInt8>, orDate date: () throws -> Date, to output: inout [UInt8]
    ) rethrows {
        output.append(UInt8(ascii: "\""))
        if !append(fromPostgresText: bytes, to: &output) {
            // RFC 3339 text has nothing JSON escapes.
            output.append(contentsOf: string(from: try date()).utf8)
        }
        output.append(UInt8(ascii: "\""))
    }
}
