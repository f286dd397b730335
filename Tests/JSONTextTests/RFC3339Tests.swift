import Foundation
import JSONText
import Testing

@Suite("RFC 3339 timestamps: parsed strictly, in PostgreSQL's calendar")
struct RFC3339Tests {
    @Test func validTimestampsAndTheirInstants() throws {
        let cases: [(String, Double)] = [
            ("1970-01-01T00:00:00Z", 0),
            ("2026-11-29T15:44:48Z", 1_795_967_088),
            ("2026-11-29T16:44:48.250+01:00", 1_795_967_088.25),
            ("2026-11-29t15:44:48z", 1_795_967_088),
            ("2024-02-29T00:00:00-00:30", 1_709_166_600),
            // Proleptic Gregorian, as PostgreSQL counts: no Julian days before 1582.
            ("0001-01-01T00:00:00Z", -62_135_596_800),
            ("9999-12-31T23:59:59.999Z", 253_402_300_799.999),
        ]
        for (text, seconds) in cases {
            let date = try #require(RFC3339.date(from: text), "\(text)")
            #expect(abs(date.timeIntervalSince1970 - seconds) < 0.0005, "\(text)")
        }
    }

    @Test func postgresTextConvertsWithoutADate() {
        for (text, expected) in [
            ("2026-11-29 15:44:48+00", "2026-11-29T15:44:48.000Z"), ("2026-11-29 15:44:48.1+00", "2026-11-29T15:44:48.100Z"),
            ("2026-11-29 15:44:48.9999+00", "2026-11-29T15:44:48.999Z"), ("1969-12-31 23:59:59.999999+00", "1969-12-31T23:59:59.999Z"),
            // A Date's Double holds no microseconds this late; through one, this printed as 0000-01-01.
            ("9999-12-31 23:59:59.999999+00", "9999-12-31T23:59:59.999Z"),
        ] {
            #expect(RFC3339.string(fromPostgresText: text) == expected)
        }
        for other in [
            "2026-11-29 15:44:48+01", "2026-11-29 15:44:48.+00", "2026-11-29 15:44:48.1234567+00", "0044-03-15 12:00:00+00 BC",
            "infinity", "10000-01-01 00:00:00+00", "2026-11-29T15:44:48+00", "2026-11-29 15:44:4x+00", "",
        ] {
            #expect(RFC3339.string(fromPostgresText: other) == nil, "\(other)")
        }
    }

    @Test func millisecondsPrintAsStoredDespiteFloatingPoint() {
        // A Date keeps its seconds as a Double; one a hair below a whole millisecond printed a
        // millisecond early (-0.001 s as .998).
        for (seconds, text) in [
            (1_764_460_597.002, "2025-11-29T23:56:37.002Z"), (1_764_460_597.009, "2025-11-29T23:56:37.009Z"),
            (-0.001, "1969-12-31T23:59:59.999Z"), (-62_135_596_800, "0001-01-01T00:00:00.000Z"),
        ] {
            #expect(JSONValue.timestamp(Date(timeIntervalSince1970: seconds)) == .string(text), "\(seconds)")
        }
    }

    @Test func anythingElseIsRefused() {
        for text in [
            "", "2026-11-29", "2026-11-29T15:44:48", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z", "2026-11-31T00:00:00Z",
            "2026-11-29T24:00:00Z", "2026-11-29T15:60:00Z", "2026-11-29T15:44:60Z", "2026-11-29 15:44:48Z", "2026-11-29T15:44:48.Z",
            "2026-11-29T15:44:48.1234567890Z", "2026-11-29T15:44:48+0100", "2026-11-29T15:44:48Z ", "0000-01-01T00:00:00Z",
            "0001-01-01T00:30:00+01:00", "10000-01-01T00:00:00Z", "+2026-11-29T15:44:48Z", "２０２６-11-29T15:44:48Z",
        ] {
            #expect(RFC3339.date(from: text) == nil, "\(text)")
        }
    }
}
