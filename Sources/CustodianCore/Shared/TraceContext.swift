import Foundation

/// W3C Trace Context (`traceparent: 00-<trace id>-<parent id>-<flags>`): the trace a request
/// belongs to, read from its header, kept in logs, and passed on to the webhook deliveries of
/// the events it caused — each delivery a new span of that trace (a new parent id).
public struct TraceContext: Sendable, Equatable {
    /// 32 lower-case hex digits, not all zero.
    public let traceID: String
    /// Whether the caller sampled the trace (the flags' lowest bit).
    public let sampled: Bool

    public init?(traceID: String, sampled: Bool) {
        guard Self.isHex(traceID, count: 32) else { return nil }
        self.traceID = traceID
        self.sampled = sampled
    }

    /// A `traceparent` header's value of version 00; nil for anything malformed (then the
    /// request starts no trace of its own: ignoring it is what the specification asks).
    public init?(header: String) {
        let parts = header.trimmingCharacters(in: .whitespaces).split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4, parts[0] == "00", Self.isHex(parts[2], count: 16), Self.isHex(parts[3], count: 2),
            let flags = UInt8(parts[3], radix: 16)
        else { return nil }
        self.init(traceID: parts[1], sampled: flags & 1 == 1)
    }

    /// The header for a new span of this trace.
    public func header(parentID: String = Self.newSpanID()) -> String {
        "00-\(traceID)-\(parentID)-\(sampled ? "01" : "00")"
    }

    public static func newSpanID() -> String {
        var id = ""
        repeat {
            id = (0..<8).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        } while id == String(repeating: "0", count: 16)
        return id
    }

    /// Lower-case hex of `count` digits, not all zero (both are invalid in Trace Context).
    static func isHex(_ text: String, count: Int) -> Bool {
        text.utf8.count == count && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
            && text.utf8.contains { $0 != 48 }
    }

    /// The trace of the request this task serves, if it came with one.
    @TaskLocal public static var current: TraceContext?
}
