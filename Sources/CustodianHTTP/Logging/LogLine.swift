import Foundation
import JSONText
import Logging

/// How a log event becomes one line of text: `text` for people reading a terminal, `json` (one
/// object per line) for log shippers. Both hold the same fields; neither may hold a personal
/// value or a secret, which is why requests log route patterns and ids only.
public enum LogLine {
    public enum Format: String, Sendable, CaseIterable {
        case text, json
    }

    /// The event as one line, without its newline.
    public static func render(
        _ format: Format, time: Date, level: Logger.Level, label: String, source: String, message: String, metadata: Logger.Metadata
    ) -> String {
        switch format {
        case .text:
            let rendered = metadata.sorted { $0.key < $1.key }.map { " \($0.key)=\($0.value)" }.joined()
            return "\(RFC3339.seconds(time)) \(level) \(label):\(rendered) [\(source)] \(message)"
        case .json:
            var object: [String: JSONValue] = [:]
            for (key, value) in metadata { object[key] = json(value) }
            // The line's own fields win over metadata of the same name.
            object["time"] = .string(RFC3339.string(from: time))
            object["level"] = .string(level.rawValue)
            object["logger"] = .string(label)
            object["source"] = .string(source)
            object["message"] = .string(message)
            return String(decoding: JSONValue.object(object).serialized(), as: UTF8.self)
        }
    }

    private static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let text): .string(text)
        case .stringConvertible(let convertible): .string(convertible.description)
        case .array(let items): .array(items.map(json))
        case .dictionary(let members): .object(members.mapValues(json))
        }
    }
}

extension RFC3339 {
    /// `2026-12-07T10:00:00Z`: a log line's time, to the second.
    static func seconds(_ date: Date) -> String {
        let full = string(from: date)
        guard let dot = full.firstIndex(of: ".") else { return full }
        return String(full[..<dot]) + "Z"
    }
}
