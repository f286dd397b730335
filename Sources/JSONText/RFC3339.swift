import Foundation
import Postgres

#if canImport(Glibc)
    import Glibc
#endif

/// `2026-11-29T15:44:48.123Z`. Written by hand: Foundation's formatters cost microseconds per
/// call, which adds up in a page of a thousand records.
public enum RFC3339 {
    /// Parses an RFC 3339 timestamp (`2026-11-29T15:44:48Z`, `2026-11-29T16:44:48.123+01:00`)
    /// whose instant lies in the years 0001 to 9999 UTC; nil for anything else. The calendar is
    /// the proleptic Gregorian one PostgreSQL uses, also before 1582.
    public static func date(from text: String) -> Date? {
        guard text.utf8.count <= 40 else { return nil }
        var scanner = DigitScanner(text)
        guard let time = scanner.civilTime(separators: ["T", "t"]), time.isValid else { return nil }
        var offsetSeconds = 0
        if !(scanner.skip("Z") || scanner.skip("z")) {
            guard let sign = scanner.sign(), let offsetHours = scanner.number(digits: 2), scanner.skip(":"),
                let offsetMinutes = scanner.number(digits: 2), offsetHours < 24, offsetMinutes < 60
            else { return nil }
            offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60)
        }
        guard scanner.isAtEnd else { return nil }
        let date = time.date(offsetSeconds: offsetSeconds)
        return validRange.contains(date) ? date : nil
    }

    /// 0001-01-01T00:00:00Z up to the end of 9999.
    public static let validRange = Date(timeIntervalSince1970: -62_135_596_800)..<Date(timeIntervalSince1970: 253_402_300_800)

    /// Milliseconds, truncated as PostgreSQL's `to_char(..., 'MS')` does. Stored times have whole
    /// microseconds, which a Double holds only approximately: rounding to the microsecond first
    /// keeps a value a hair below a whole millisecond from printing a millisecond early.
    public static func string(from date: Date) -> String {
        let microseconds = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        let milliseconds = microseconds >= 0 ? microseconds / 1000 : (microseconds - 999) / 1000
        var seconds = time_t(milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000)
        let fraction = Int(milliseconds - Int64(seconds) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var bytes = [UInt8]()
        bytes.reserveCapacity(24)
        func append(_ value: Int, digits: Int) {
            var divisor = 1
            for _ in 1..<digits { divisor *= 10 }
            var remaining = value
            while divisor > 0 {
                bytes.append(UInt8(ascii: "0") + UInt8((remaining / divisor) % 10))
                remaining %= divisor
                divisor /= 10
            }
        }
        append(Int(parts.tm_year) + 1900, digits: 4)
        bytes.append(UInt8(ascii: "-"))
        append(Int(parts.tm_mon) + 1, digits: 2)
        bytes.append(UInt8(ascii: "-"))
        append(Int(parts.tm_mday), digits: 2)
        bytes.append(UInt8(ascii: "T"))
        append(Int(parts.tm_hour), digits: 2)
        bytes.append(UInt8(ascii: ":"))
        append(Int(parts.tm_min), digits: 2)
        bytes.append(UInt8(ascii: ":"))
        append(Int(parts.tm_sec), digits: 2)
        bytes.append(UInt8(ascii: "."))
        append(fraction, digits: 3)
        bytes.append(UInt8(ascii: "Z"))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// PostgreSQL's text of a UTC timestamp (`2026-11-29 15:44:48.123456+00`, as every session
    /// prints them) in the form `string(from:)` gives, without the round trip through `Date`
    /// (whose Double cannot hold microseconds near the year 9999, and costs a parse); nil for any
    /// other text (BC years, `infinity`, another offset), which callers convert through `Date`.
    public static func string(fromPostgresText text: String) -> String? {
        var text = text
        var output: [UInt8] = []
        output.reserveCapacity(24)
        guard text.withUTF8({ append(fromPostgresText: $0, to: &output) }) else { return nil }
        return String(decoding: output, as: UTF8.self)
    }

    /// `string(fromPostgresText:)` of the text's bytes, appended to `output` (for writers of JSON
    /// text); false, with `output` untouched, where that gives nil.
    public static func append(fromPostgresText bytes: UnsafeBufferPointer<UInt8>, to output: inout [UInt8]) -> Bool {
        // YYYY-MM-DD HH:MM:SS, then .f to .ffffff, then +00
        let count = bytes.count
        guard count == 22 || (24...29).contains(count), bytes[count - 3] == UInt8(ascii: "+"),
            bytes[count - 2] == UInt8(ascii: "0"), bytes[count - 1] == UInt8(ascii: "0")
        else { return false }
        for (index, byte) in bytes[0..<19].enumerated() {
            let expected: UInt8? =
                switch index {
                case 4, 7: UInt8(ascii: "-")
                case 10: UInt8(ascii: " ")
                case 13, 16: UInt8(ascii: ":")
                default: nil
                }
            if let expected {
                guard byte == expected else { return false }
            } else {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return false }
            }
        }
        let fraction = bytes[min(20, count - 3)..<(count - 3)]
        guard count == 22 || bytes[19] == UInt8(ascii: "."),
            fraction.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        else { return false }
        output.append(contentsOf: bytes[0..<10])
        output.append(UInt8(ascii: "T"))
        output.append(contentsOf: bytes[11..<19])
        output.append(UInt8(ascii: "."))
        // Truncated to milliseconds, as `string(from:)` truncates.
        for index in 0..<3 {
            output.append(index < fraction.count ? fraction[fraction.startIndex + index] : UInt8(ascii: "0"))
        }
        output.append(UInt8(ascii: "Z"))
        return true
    }
}
