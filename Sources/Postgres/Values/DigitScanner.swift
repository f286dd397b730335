import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Reads numbers and separators off the front of ASCII text: for hand-written parsers of dates and
/// times, which Foundation's formatters make slow and lenient.
public struct DigitScanner {
    private let bytes: [UInt8]
    private var position = 0

    public init(_ text: String) { self.bytes = Array(text.utf8) }

    public var isAtEnd: Bool { position == bytes.count }

    /// Steps over `character` if it comes next.
    public mutating func skip(_ character: Unicode.Scalar) -> Bool {
        guard position < bytes.count, bytes[position] == UInt8(ascii: character) else { return false }
        position += 1
        return true
    }

    public mutating func sign() -> Int? {
        if skip("+") { return 1 }
        if skip("-") { return -1 }
        return nil
    }

    /// Exactly `digits` decimal digits.
    public mutating func number(digits: Int) -> Int? {
        guard position + digits <= bytes.count else { return nil }
        var value = 0
        for byte in bytes[position..<position + digits] {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        position += digits
        return value
    }

    /// As many digits as follow (at least one), and how many there were.
    public mutating func digitRun() -> (value: Int, count: Int)? {
        var value = 0
        var count = 0
        while position < bytes.count, bytes[position] >= UInt8(ascii: "0"), bytes[position] <= UInt8(ascii: "9") {
            value = value * 10 + Int(bytes[position] - UInt8(ascii: "0"))
            count += 1
            position += 1
        }
        return count == 0 ? nil : (value, count)
    }
}

extension DigitScanner {
    /// A date and a time of day as written, before any offset is applied.
    public struct CivilTime: Sendable {
        public let year: Int
        public let month: Int
        public let day: Int
        public let hour: Int
        public let minute: Int
        public let second: Int
        /// The fraction of the second, from up to nine digits after a `.`.
        public let fraction: Double

        /// Whether every field is within its range (the day within its month, leap years included).
        public var isValid: Bool {
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
            let days = month == 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].contains(month) ? 30 : 31
            return (1...12).contains(month) && (1...days).contains(day) && hour < 24 && minute < 60 && second < 60
        }

        /// The instant, for a time written `offsetSeconds` east of UTC. timegm counts in the
        /// proleptic Gregorian calendar, as PostgreSQL does, also before 1582.
        public func date(offsetSeconds: Int) -> Date {
            var parts = tm()
            parts.tm_year = Int32(year - 1900)
            parts.tm_mon = Int32(month - 1)
            parts.tm_mday = Int32(day)
            parts.tm_hour = Int32(hour)
            parts.tm_min = Int32(minute)
            parts.tm_sec = Int32(second)
            return Date(timeIntervalSince1970: Double(Int64(timegm(&parts)) - Int64(offsetSeconds)) + fraction)
        }
    }

    /// `YYYY-MM-DD`, one of `separators`, `HH:MM:SS`, and an optional `.` with up to nine digits.
    public mutating func civilTime(separators: [Unicode.Scalar]) -> CivilTime? {
        guard let year = number(digits: 4), skip("-"), let month = number(digits: 2), skip("-"), let day = number(digits: 2),
            separators.contains(where: { skip($0) }),
            let hour = number(digits: 2), skip(":"), let minute = number(digits: 2), skip(":"), let second = number(digits: 2)
        else { return nil }
        var fraction = 0.0
        if skip(".") {
            guard let (value, count) = digitRun(), count <= 9 else { return nil }
            fraction = Double(value) / pow(10, Double(count))
        }
        return CivilTime(year: year, month: month, day: day, hour: hour, minute: minute, second: second, fraction: fraction)
    }
}
