import Foundation

/// Why one cell could not become the Swift type asked for.
public enum CellDecodingFailure: Error, Sendable, Equatable {
    case unexpectedNull
    case typeMismatch
    case invalidValue
}

/// A Swift type that a result cell (PostgreSQL's text format) decodes into; `Optional` of one takes NULL.
public protocol PostgresDecodable: Sendable {
    static func decode(cell: String?, type: PostgresType) -> Result<Self, CellDecodingFailure>
}

/// A non-optional value type: says which column types it reads and parses the text of one.
public protocol PostgresValueDecodable: PostgresDecodable {
    static func accepts(_ type: PostgresType) -> Bool
    init?(postgresText text: String, type: PostgresType)
}

// Inlinable, as is `Row.decode`: a row is decoded in the caller's module, where the compiler can
// then call each type's parser directly instead of through the generic witness tables.
extension PostgresValueDecodable {
    @inlinable
    public static func decode(cell: String?, type: PostgresType) -> Result<Self, CellDecodingFailure> {
        guard let cell else { return .failure(.unexpectedNull) }
        guard accepts(type) else { return .failure(.typeMismatch) }
        guard let value = Self(postgresText: cell, type: type) else { return .failure(.invalidValue) }
        return .success(value)
    }
}

extension Optional: PostgresDecodable where Wrapped: PostgresValueDecodable {
    @inlinable
    public static func decode(cell: String?, type: PostgresType) -> Result<Self, CellDecodingFailure> {
        guard cell != nil else { return .success(nil) }
        return Wrapped.decode(cell: cell, type: type).map(Optional.some)
    }
}

extension String: PostgresValueDecodable {
    public static func accepts(_ type: PostgresType) -> Bool { type.isTextual }
    public init?(postgresText text: String, type: PostgresType) { self = text }
}

extension Int: PostgresValueDecodable {
    public static func accepts(_ type: PostgresType) -> Bool { type.isInteger || type == .oidType }
    public init?(postgresText text: String, type: PostgresType) { self.init(text) }
}

extension Int64: PostgresValueDecodable {
    public static func accepts(_ type: PostgresType) -> Bool { type.isInteger || type == .oidType }
    public init?(postgresText text: String, type: PostgresType) { self.init(text) }
}

extension Int32: PostgresValueDecodable {
    public static func accepts(_ type: PostgresType) -> Bool { type == .int2 || type == .int4 }
    public init?(postgresText text: String, type: PostgresType) { self.init(text) }
}

extension Double: PostgresValueDecodable {
    public static func accepts(_ type: PostgresType) -> Bool {
        type == .float4 || type == .float8 || type == .numeric || type.isInteger
    }
    public init?(postgresText text: String, type: PostgresType) { self.init(text) }
}

extension Decimal: PostgresValueDecodable {
    public static func accepts(_ type: PostgresType) -> Bool { type == .numeric || type.isInteger }
    public init?(postgresText text: String, type: PostgresType) {
        // Decimal(string:) accepts a numeric prefix ("12abc"); a server value never has one, but be strict.
        guard text != "NaN", text.allSatisfy({ $0.isASCII && ($0.isNumber || "-+.eE".contains($0)) }),
            let value = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX"))
        else { return nil }
        self = value
    }
}

extension Bool: PostgresValueDecodable {
    public static func accepts(_ type: PostgresType) -> Bool { type == .bool }
    public init?(postgresText text: String, type: PostgresType) {
        switch text {
        case "t": self = true
        case "f": self = false
        default: return nil
        }
    }
}

extension UUID: PostgresValueDecodable {
    public static func accepts(_ type: PostgresType) -> Bool { type == .uuid }
    public init?(postgresText text: String, type: PostgresType) {
        guard let uuid = UUIDText.parse(text) else { return nil }
        self.init(uuid: uuid)
    }
}

extension Date: PostgresValueDecodable {
    public static func accepts(_ type: PostgresType) -> Bool { type == .timestamptz || type == .timestamp }
    public init?(postgresText text: String, type: PostgresType) {
        guard let date = TimestampFormat.date(from: text) else { return nil }
        self = date
    }
}

extension Data: PostgresValueDecodable {
    public static func accepts(_ type: PostgresType) -> Bool { type == .bytea }
    public init?(postgresText text: String, type: PostgresType) {
        guard let bytes = ByteaHex.decode(text) else { return nil }
        self.init(bytes)
    }
}

extension Array: PostgresDecodable where Element == UInt8 {}
extension Array: PostgresValueDecodable where Element == UInt8 {
    public static func accepts(_ type: PostgresType) -> Bool { type == .bytea }
    public init?(postgresText text: String, type: PostgresType) {
        guard let bytes = ByteaHex.decode(text) else { return nil }
        self = bytes
    }
}

/// bytea's text output (bytea_output = hex, the default since PostgreSQL 9.0): `\x` then two hex digits a byte.
enum ByteaHex {
    static func decode(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count >= 2, utf8[0] == UInt8(ascii: "\\"), utf8[1] == UInt8(ascii: "x"), utf8.count % 2 == 0 else {
            return nil
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity((utf8.count - 2) / 2)
        var index = 2
        while index < utf8.count {
            guard let high = HexDigit.value(utf8[index]), let low = HexDigit.value(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }
}

/// The value of one hexadecimal digit (either case), or nil for any other byte.
enum HexDigit {
    static func value(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// A closed set of values kept in a text column (a case's status, a consent's action): decoding a
/// value outside the set fails (`invalidValue`), so a row the code does not understand is an error,
/// never a valid-looking default.
public protocol PostgresTextEnum: PostgresValueDecodable, RawRepresentable where RawValue == String {}

extension PostgresTextEnum {
    public static func accepts(_ type: PostgresType) -> Bool { type.isTextual }
    public init?(postgresText text: String, type: PostgresType) { self.init(rawValue: text) }
}
