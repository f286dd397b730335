import CustodianCore
import Foundation
import Hummingbird
import JSONText

/// Reads a query string: a list's `limit`, `cursor` and filters, or any endpoint's parameters,
/// collecting every problem; unknown parameters are refused.
struct ListQuery {
    private let query: QueryParameters
    private var errors: [FieldError] = []
    private var known: Set<String>

    /// `known` holds the parameters read without a reader of their own (a list's limit and cursor).
    init(_ request: Request, known: Set<String> = ["limit", "cursor"]) {
        self.query = QueryParameters(request)
        self.known = known
    }

    /// The decoded value; one holding a NUL character (which no PostgreSQL text can store) is a
    /// problem of its own, reported once.
    private mutating func raw(_ name: String) -> String? {
        guard let value = query[name] else { return nil }
        if value.utf8.contains(0) {
            if !errors.contains(where: { $0.field == name }) {
                errors.append(FieldError(field: name, message: "must not contain NUL characters"))
            }
            return nil
        }
        return value
    }

    mutating func limit() -> Int {
        known.insert("limit")
        guard let text = raw("limit") else { return PageSize.default }
        guard let value = Int(text), PageSize.range.contains(value) else {
            errors.append(
                FieldError(
                    field: "limit", message: "must be a whole number from \(PageSize.range.lowerBound) to \(PageSize.range.upperBound)"))
            return PageSize.default
        }
        return value
    }

    mutating func cursor() throws -> Cursor? {
        known.insert("cursor")
        guard let token = raw("cursor") else { return nil }
        return try Cursor(token: token)
    }

    mutating func text(_ name: String, maxLength: Int = 200) -> String? {
        known.insert(name)
        guard let raw = raw(name) else { return nil }
        guard raw.unicodeScalars.count <= maxLength else {
            errors.append(FieldError(field: name, message: "must be at most \(maxLength) characters"))
            return nil
        }
        let text = raw.trimmingCharacters(in: .whitespaces)
        return text.isEmpty ? nil : text
    }

    /// An RFC 3339 timestamp, such as 2026-11-29T12:00:00Z.
    mutating func timestamp(_ name: String) -> Date? {
        known.insert(name)
        guard let text = raw(name) else { return nil }
        guard let date = RFC3339.date(from: text) else {
            errors.append(FieldError(field: name, message: "must be an RFC 3339 timestamp such as 2026-11-29T12:00:00Z"))
            return nil
        }
        return date
    }

    /// A consent receipt's position and hash, `<seq>:<64 hex digits>`.
    mutating func receipt(_ name: String) -> (seq: Int64, hash: [UInt8])? {
        known.insert(name)
        guard let text = raw(name) else { return nil }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count <= 18, parts[0].allSatisfy(\.isASCIIDigit), let seq = Int64(parts[0]), seq >= 1,
            let hash = Hex.decode(String(parts[1])), hash.count == 32
        else {
            errors.append(FieldError(field: name, message: "must be a receipt's seq and hash: <seq>:<64 hexadecimal digits>"))
            return nil
        }
        return (seq, hash)
    }

    mutating func uuid(_ name: String) -> UUID? {
        known.insert(name)
        guard let text = raw(name) else { return nil }
        guard let id = UUID(uuidString: text) else {
            errors.append(FieldError(field: name, message: "must be a UUID"))
            return nil
        }
        return id
    }

    mutating func bool(_ name: String) -> Bool? {
        known.insert(name)
        guard let text = raw(name) else { return nil }
        switch text {
        case "true": return true
        case "false": return false
        default:
            errors.append(FieldError(field: name, message: "must be true or false"))
            return nil
        }
    }

    mutating func choice<Choice: RawRepresentable & CaseIterable>(_ name: String, _: Choice.Type) -> Choice?
    where Choice.RawValue == String {
        known.insert(name)
        guard let text = raw(name) else { return nil }
        guard let choice = Choice(rawValue: text) else {
            errors.append(FieldError(field: name, message: "must be one of " + Choice.allCases.map(\.rawValue).joined(separator: ", ")))
            return nil
        }
        return choice
    }

    /// Throws 422 for bad values and for parameters this endpoint does not know.
    func finish() throws {
        var all = errors
        if !query.isValid {
            throw ProblemError(.badRequest, detail: "the query string is not valid URL encoding")
        }
        for (name, _) in query.pairs where !known.contains(name) && !all.contains(where: { $0.field == name }) {
            all.append(FieldError(field: name, message: "is not a parameter of this list"))
        }
        if !all.isEmpty { throw DomainError.invalid(all) }
    }
}

extension Page {
    /// `{"data": [...], "next_cursor": ...}`, the shape of every list.
    func json(_ item: (Item) -> JSONValue) -> JSONValue {
        .object(["data": .array(items.map(item)), "next_cursor": .string(nextCursor?.token)])
    }
}

extension Character {
    /// 0 to 9 only: `Int` parsing alone would take a sign too.
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
