import Foundation
import JSONText

/// PostgreSQL array literals, sent as one bind parameter (`$1::uuid[]`, `$1::text[]`).
enum ArrayLiteral {
    static func uuids(_ ids: [UUID]) -> String {
        "{" + ids.map { $0.lowercasedString }.joined(separator: ",") + "}"
    }

    /// Every element quoted, its quotes and backslashes escaped.
    static func texts(_ values: [String]) -> String {
        "{"
            + values.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
            .joined(separator: ",") + "}"
    }
}
