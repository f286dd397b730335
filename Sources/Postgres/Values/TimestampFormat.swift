import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Timestamps in the form PostgreSQL prints them with `DateStyle = ISO` (every connection sets it),
/// and in the form it parses on input. Microsecond precision, like PostgreSQL's own.
enum TimestampFormat {
    /// `2026-11-29 15:44:48.123456+00`, always UTC.
    static func string(from date: Date) -> String {
        let interval = date.timeIntervalSince1970
        var seconds = Int64(interval.rounded(.down))
        var micros = Int64(((interval - Double(seconds)) * 1_000_000).rounded())
        if micros == 1_000_000 {
            seconds += 1
            micros = 0
        }
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(
            format: "%04d-%02d-%02d %02d:%02d:%02d.%06d+00",
            Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(micros)
        )
    }

    /// Parses `YYYY-MM-DD HH:MM:SS[.ffffff][+HH[:MM[:SS]]]`; without an offset the value is taken as UTC.
    static func date(from text: String) -> Date? {
        switch text {
        case "infinity": return .distantFuture
        case "-infinity": return .distantPast
        default: break
        }
        var scanner = DigitScanner(text)
        guard let time = scanner.civilTime(separators: [" ", "T"]) else { return nil }
        var offsetSeconds = 0
        if let sign = scanner.sign() {
            guard let offsetHours = scanner.number(digits: 2) else { return nil }
            var offset = offsetHours * 3600
            if scanner.skip(":") {
                guard let offsetMinutes = scanner.number(digits: 2) else { return nil }
                offset += offsetMinutes * 60
                if scanner.skip(":") {
                    guard let offsetSecs = scanner.number(digits: 2) else { return nil }
                    offset += offsetSecs
                }
            }
            offsetSeconds = sign * offset
        } else if scanner.skip("Z") {
            offsetSeconds = 0
        }
        guard scanner.isAtEnd else { return nil }
        return time.date(offsetSeconds: offsetSeconds)
    }
}
