import Foundation
import Postgres

enum PostgresTimestampText {
    /// PostgreSQL's ISO text in UTC (`2026-11-30 00:49:33.1234+00`) as the API prints it
    /// (`2026-11-30T00:49:33.123Z`: milliseconds, truncated as `RFC3339` truncates them);
    /// anything else (years past 9999 cannot be stored through the API) goes the long way.
    static func write(_ text: String, row: Row, at index: Int, into output: inout [UInt8]) throws {
        let fast: Bool =
            text.utf8.withContiguousStorageIfAvailable { bytes in
                guard bytes.count >= 22, bytes.count <= 29, bytes[4] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: " "),
                    bytes[bytes.count - 3] == UInt8(ascii: "+"), bytes[bytes.count - 2] == UInt8(ascii: "0"),
                    bytes[bytes.count - 1] == UInt8(ascii: "0")
                else { return false }
                output.append(UInt8(ascii: "\""))
                output.append(contentsOf: bytes[0..<10])
                output.append(UInt8(ascii: "T"))
                output.append(contentsOf: bytes[11..<19])
                output.append(UInt8(ascii: "."))
                let fractionEnd = bytes.count - 3
                for digit in 0..<3 { output.append(20 + digit < fractionEnd ? bytes[20 + digit] : UInt8(ascii: "0")) }
                output.append(contentsOf: "Z\"".utf8)
                return true
            } ?? false
        if !fast {
            output.append(contentsOf: JSONValue.timestamp(try row.decode(at: index, as: Date.self)).serialized())
        }
    }
}
