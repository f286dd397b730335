import Foundation

/// How one bind parameter travels to the server.
public enum PostgresBinding: Sendable, Equatable {
    case null
    /// PostgreSQL's text representation; the server parses it for the parameter's type.
    case text(String)
    /// Raw bytes, sent in binary format (used for bytea, which needs no escaping then).
    case binary([UInt8])
}

/// A Swift value that can be sent as a `$n` parameter.
public protocol PostgresBindable: Sendable {
    var postgresBinding: PostgresBinding { get }
}

extension Optional: PostgresBindable where Wrapped: PostgresBindable {
    public var postgresBinding: PostgresBinding {
        switch self {
        case .none: .null
        case .some(let value): value.postgresBinding
        }
    }
}

extension String: PostgresBindable {
    public var postgresBinding: PostgresBinding { .text(self) }
}

extension Substring: PostgresBindable {
    public var postgresBinding: PostgresBinding { .text(String(self)) }
}

extension Int: PostgresBindable {
    public var postgresBinding: PostgresBinding { .text(String(self)) }
}

extension Int64: PostgresBindable {
    public var postgresBinding: PostgresBinding { .text(String(self)) }
}

extension Int32: PostgresBindable {
    public var postgresBinding: PostgresBinding { .text(String(self)) }
}

extension Int16: PostgresBindable {
    public var postgresBinding: PostgresBinding { .text(String(self)) }
}

extension Double: PostgresBindable {
    public var postgresBinding: PostgresBinding {
        // PostgreSQL spells the special values its own way; Swift's description round-trips the rest.
        if isNaN { return .text("NaN") }
        if isInfinite { return .text(self < 0 ? "-Infinity" : "Infinity") }
        return .text(description)
    }
}

extension Decimal: PostgresBindable {
    public var postgresBinding: PostgresBinding {
        isNaN ? .text("NaN") : .text(description)
    }
}

extension Bool: PostgresBindable {
    public var postgresBinding: PostgresBinding { .text(self ? "true" : "false") }
}

extension UUID: PostgresBindable {
    public var postgresBinding: PostgresBinding { .text(uuidString) }
}

extension Date: PostgresBindable {
    public var postgresBinding: PostgresBinding { .text(TimestampFormat.string(from: self)) }
}

extension Data: PostgresBindable {
    public var postgresBinding: PostgresBinding { .binary([UInt8](self)) }
}

extension Array: PostgresBindable where Element == UInt8 {
    public var postgresBinding: PostgresBinding { .binary(self) }
}
