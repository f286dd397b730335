/// A record as the API's GET shows it, written by PostgreSQL: a feed of a million records is
/// then bytes passed on, not a million objects built and serialised here.
enum FeedRecordJSON {
    static func expression(_ table: RecordTable, alias: String) -> String {
        var pairs = ["'id', \(alias).id"]
        for column in table.columns + table.readOnlyColumns {
            let value = "\(alias).\(column.name)"
            switch column.kind {
            case .timestamp: pairs.append("'\(column.name)', \(timestamp(value))")
            default: pairs.append("'\(column.name)', \(value)")
            }
        }
        pairs += [
            "'custom_fields', \(alias).custom_fields", "'created_at', \(timestamp("\(alias).created_at"))",
            "'updated_at', \(timestamp("\(alias).updated_at"))",
        ]
        // json_build_object takes at most 100 arguments.
        let groups = stride(from: 0, to: pairs.count, by: 40).map { start in
            "jsonb_build_object(" + pairs[start..<min(start + 40, pairs.count)].joined(separator: ", ") + ")"
        }
        return groups.count == 1 ? "json_build_object(" + pairs.joined(separator: ", ") + ")" : groups.joined(separator: " || ")
    }

    /// RFC 3339 in UTC with milliseconds, as `JSONValue.timestamp` prints it.
    static func timestamp(_ value: String) -> String {
        "to_char(\(value) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
    }
}
