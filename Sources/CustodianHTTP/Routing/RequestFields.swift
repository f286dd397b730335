import CustodianCore
import Foundation
import Hummingbird
import JSONText

/// Reads the fields of a JSON object body one by one, collecting every problem, so a 422 lists
/// all offending fields at once. Unknown fields are refused: a typo must not pass silently.
public struct RequestFields {
    private let members: [String: JSONValue]
    private var seen: Set<String> = []
    private(set) var errors: [FieldError] = []

    /// The value of a field that may be absent, null or set (PATCH needs all three).
    public enum Presence<Value> {
        case absent
        case null
        case value(Value)
    }

    public static func read(_ request: Request) async throws -> RequestFields {
        let body = try await JSONBody.decode(JSONValue.self, from: request)
        guard let members = body.object else {
            throw ProblemError(.malformedJSON, detail: "the body must be a JSON object")
        }
        var fields = RequestFields(members: members)
        for path in JSONValue.pathsHoldingNUL(in: body) {
            fields.fail(path, "must not contain NUL characters, which no text in the database can hold")
        }
        return fields
    }

    init(members: [String: JSONValue]) { self.members = members }

    /// The body's bytes in a canonical form (keys sorted), without `leavingOut`: the same answers
    /// give the same bytes however they were written.
    func canonical(leavingOut: Set<String>) -> [UInt8] {
        JSONValue.object(members.filter { !leavingOut.contains($0.key) }).serialized()
    }

    public mutating func fail(_ field: String, _ message: String) {
        errors.append(FieldError(field: field, message: message))
    }

    /// Whether the body has `field` at all (reading nothing).
    func has(_ field: String) -> Bool { members[field] != nil }

    /// The raw member, marked as read; for fields with a shape of their own.
    mutating func rawMember(_ field: String) -> JSONValue? {
        seen.insert(field)
        return members[field]
    }

    private mutating func raw(_ field: String, required: Bool) -> JSONValue? {
        seen.insert(field)
        guard let value = members[field] else {
            if required { fail(field, "is required") }
            return nil
        }
        return value
    }

    /// A string of at most `maxLength` characters (Unicode code points, as the database counts),
    /// not blank, without control characters but for newlines and tabs; stored trimmed.
    public mutating func string(_ field: String, required: Bool, maxLength: Int) -> Presence<String> {
        guard let value = raw(field, required: required) else { return .absent }
        switch value {
        case .null:
            if required { fail(field, "must not be null") }
            return .null
        case .string(let text):
            if let problem = Self.problem(withText: text, maxLength: maxLength) {
                fail(field, problem)
                return .absent
            }
            return .value(text.trimmingCharacters(in: .whitespacesAndNewlines))
        default:
            fail(field, "must be a string, not \(value.jsonTypeName)")
            return .absent
        }
    }

    /// For a PATCH of a text field that cannot be cleared: nil when absent, and `null` is refused.
    public mutating func change(_ field: String, maxLength: Int) -> String? {
        switch string(field, required: false, maxLength: maxLength) {
        case .absent: return nil
        case .null:
            fail(field, "must not be null: it cannot be cleared")
            return nil
        case .value(let text): return text
        }
    }

    /// For an optional flag that has no "unset": nil when absent, and `null` is refused.
    public mutating func change(_ field: String) -> Bool? {
        switch bool(field, required: false) {
        case .absent: return nil
        case .null:
            fail(field, "must be true or false, not null")
            return nil
        case .value(let flag): return flag
        }
    }

    /// For an optional timestamp with a default: nil when absent, and `null` is refused.
    public mutating func changeTimestamp(_ field: String) -> Date? {
        switch timestamp(field, required: false) {
        case .absent: return nil
        case .null:
            fail(field, "must be a timestamp, not null; leave it out for the default")
            return nil
        case .value(let date): return date
        }
    }

    /// What is wrong with a text field's value, if anything (see `string`).
    static func problem(withText text: String, maxLength: Int) -> String? {
        if text.unicodeScalars.count > maxLength { return "must be at most \(maxLength) characters" }
        if text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control && $0 != "\n" && $0 != "\t" }) {
            return "must not contain control characters"
        }
        if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return "must not be empty" }
        return nil
    }

    public mutating func email(_ field: String, required: Bool) -> Presence<String> {
        let presence = string(field, required: required, maxLength: 320)
        if case .value(let address) = presence {
            // Code points, as the contract's pattern counts them: as characters, an "@" followed
            // by a combining mark is one character that is no "@".
            let scalars = address.unicodeScalars
            let parts = scalars.split(separator: "@", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !scalars.contains(where: \.properties.isWhitespace)
            else {
                fail(field, "must be an email address")
                return .absent
            }
        }
        return presence
    }

    public mutating func bool(_ field: String, required: Bool) -> Presence<Bool> {
        guard let value = raw(field, required: required) else { return .absent }
        switch value {
        case .bool(let flag): return .value(flag)
        case .null:
            fail(field, "must be true or false, not null")
            return .absent
        default:
            fail(field, "must be true or false, not \(value.jsonTypeName)")
            return .absent
        }
    }

    public mutating func timestamp(_ field: String, required: Bool) -> Presence<Date> {
        guard let value = raw(field, required: required) else { return .absent }
        if value == .null {
            if required { fail(field, "must not be null") }
            return .null
        }
        guard let text = value.string, let date = RFC3339.date(from: text) else {
            fail(field, "must be an RFC 3339 timestamp such as 2026-11-29T12:00:00Z")
            return .absent
        }
        return .value(date)
    }

    public mutating func uuid(_ field: String, required: Bool) -> Presence<UUID> {
        guard let value = raw(field, required: required) else { return .absent }
        if value == .null {
            if required { fail(field, "must not be null") }
            return .null
        }
        guard let text = value.string, let id = UUID(uuidString: text) else {
            fail(field, "must be a UUID")
            return .absent
        }
        return .value(id)
    }

    public mutating func choice<Choice: RawRepresentable & CaseIterable>(
        _ field: String,
        _: Choice.Type,
        required: Bool
    ) -> Presence<Choice> where Choice.RawValue == String {
        guard let value = raw(field, required: required) else { return .absent }
        guard let text = value.string, let choice = Choice(rawValue: text) else {
            fail(field, "must be one of " + Choice.allCases.map(\.rawValue).joined(separator: ", "))
            return .absent
        }
        return .value(choice)
    }

    /// Throws 422 listing every problem (the first one per field), unknown fields included;
    /// returns when all is well.
    public func finish() throws {
        var all: [FieldError] = []
        for error in errors where !all.contains(where: { $0.field == error.field }) { all.append(error) }
        for unknown in members.keys.sorted() where !seen.contains(unknown) && !all.contains(where: { $0.field == unknown }) {
            all.append(FieldError(field: unknown, message: "is not a field of this resource"))
        }
        if !all.isEmpty { throw DomainError.invalid(all) }
    }
}

extension RequestFields.Presence {
    /// The value when one was given; nil for absent and null.
    public var value: Value? {
        if case .value(let value) = self { return value }
        return nil
    }
}

extension JSONValue {
    /// The JSON paths (`custom_fields.notes`, `options[2]`) of every string or member name that
    /// holds a NUL character: JSON allows it, PostgreSQL's text and jsonb do not.
    static func pathsHoldingNUL(in value: JSONValue, at path: String = "") -> [String] {
        func child(_ key: String) -> String { path.isEmpty ? key : path + "." + key }
        switch value {
        case .string(let text):
            return text.utf8.contains(0) ? [path.isEmpty ? "body" : path] : []
        case .array(let items):
            return items.enumerated().flatMap { pathsHoldingNUL(in: $0.element, at: "\(path.isEmpty ? "body" : path)[\($0.offset)]") }
        case .object(let members):
            return members.keys.sorted().flatMap { key -> [String] in
                let name = key.utf8.contains(0) ? [child(key.replacingOccurrences(of: "\0", with: "\\u0000"))] : []
                return name + pathsHoldingNUL(in: members[key] ?? .null, at: child(key))
            }
        default:
            return []
        }
    }
}
