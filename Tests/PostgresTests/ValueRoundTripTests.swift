import Foundation
import Postgres
import TestSupport
import Testing

@Suite("Values travel to PostgreSQL and back unchanged")
struct ValueRoundTripTests {
    /// Sends `value` as `$1` cast to `sqlType`, reads it back and returns what came out.
    private func roundTrip<Value: PostgresBindable & PostgresDecodable>(
        _ value: Value,
        as sqlType: String,
        on pool: PostgresPool
    ) async throws -> Value {
        let row = try await pool.query("SELECT $1::\(sqlType) AS value", [value]).single()
        return try row.decode("value", as: Value.self)
    }

    @Test func integersKeepTheirFullRange() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool { pool throws in
                for value in [0, 1, -1, Int.max, Int.min] {
                    #expect(try await roundTrip(value, as: "bigint", on: pool) == value)
                }
                #expect(try await roundTrip(Int32.max, as: "integer", on: pool) == Int32.max)
                #expect(try await roundTrip(Int64.min, as: "bigint", on: pool) == Int64.min)
            }
        }
    }

    @Test func doublesAndDecimalsKeepTheirDigits() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool { pool throws in
                for value in [0.1, -2.5e-300, 1.7976931348623157e308, Double.pi] {
                    #expect(try await roundTrip(value, as: "double precision", on: pool) == value)
                }
                #expect(try await roundTrip(Double.infinity, as: "double precision", on: pool) == .infinity)
                #expect(try await roundTrip(Double.nan, as: "double precision", on: pool).isNaN)
                let money = Decimal(string: "12345678901234567890.123456789")!
                #expect(try await roundTrip(money, as: "numeric", on: pool) == money)
            }
        }
    }

    @Test func stringsKeepUnicodeAndSize() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool { pool throws in
                let samples = [
                    "", "plain", "Grüße, Łódź, 東京, 🙂‍↔️", "quote ' and backslash \\ and $1", String(repeating: "ab€", count: 400_000),
                ]
                for value in samples {
                    #expect(try await roundTrip(value, as: "text", on: pool) == value)
                }
            }
        }
    }

    @Test func aStringWithNULIsRefusedBeforeItIsSent() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool { pool throws in
                let error = try await #require(throws: PostgresError.self) {
                    try await pool.query("SELECT $1::text", ["a\u{0}b"])
                }
                #expect(error.kind == .invalidParameter)
                // The connection is still fine afterwards.
                #expect(try await roundTrip("ok", as: "text", on: pool) == "ok")
            }
        }
    }

    @Test func booleansUUIDsAndBytes() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool { pool throws in
                #expect(try await roundTrip(true, as: "boolean", on: pool) == true)
                #expect(try await roundTrip(false, as: "boolean", on: pool) == false)
                let id = UUID()
                #expect(try await roundTrip(id, as: "uuid", on: pool) == id)
                let bytes = Data((0..<1_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
                #expect(try await roundTrip(bytes, as: "bytea", on: pool) == bytes)
                #expect(try await roundTrip([UInt8](), as: "bytea", on: pool) == [])
                #expect(try await roundTrip([0, 0, 255] as [UInt8], as: "bytea", on: pool) == [0, 0, 255])
            }
        }
    }

    @Test func timestampsKeepMicroseconds() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool { pool throws in
                let samples = [
                    Date(timeIntervalSince1970: 0),
                    Date(timeIntervalSince1970: 1_764_430_000.123456),
                    Date(timeIntervalSince1970: -1_000_000_000.5),
                    Date(timeIntervalSince1970: 4_102_444_800.999999),
                ]
                for value in samples {
                    let back = try await roundTrip(value, as: "timestamptz", on: pool)
                    #expect(abs(back.timeIntervalSince1970 - value.timeIntervalSince1970) < 0.000_001)
                }
                // The session runs in UTC whatever the server's default, and offsets are honoured.
                let row = try await pool.query("SELECT '2026-11-29 17:00:00+02'::timestamptz AS value").single()
                let date: Date = try row.decode("value")
                #expect(date == Date(timeIntervalSince1970: 1_795_964_400))
            }
        }
    }

    @Test func jsonDocumentsDecodeIntoCodableValues() async throws {
        struct Profile: Codable, Sendable, Equatable {
            var name: String
            var tags: [String]
        }
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool { pool throws in
                let profile = Profile(name: "Zoë", tags: ["a", "b"])
                #expect(try await roundTrip(JSONB(profile), as: "jsonb", on: pool).value == profile)
                #expect(try await roundTrip(JSONB(profile), as: "json", on: pool).value == profile)
                let text: String = try await pool.query(#"SELECT '{"b":1}'::jsonb AS value"#).single().decode("value")
                #expect(text == #"{"b": 1}"#)
            }
        }
    }

    @Test func nullDecodesOnlyIntoOptionals() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool { pool throws in
                let row = try await pool.query(
                    "SELECT $1::text AS text, $2::bigint AS number, $3::uuid AS id",
                    [String?.none, Int?.none, UUID?.none]
                ).single()
                #expect(try row.decode("text", as: String?.self) == nil)
                #expect(try row.decode("number", as: Int?.self) == nil)
                #expect(try row.isNull("id"))
                let error = #expect(throws: RowDecodingError.self) { try row.decode("number", as: Int.self) }
                #expect(error?.description.contains("\"number\" is NULL") == true)
                let present = try await pool.query("SELECT 7::int AS number").single()
                #expect(try present.decode("number", as: Int?.self) == 7)
            }
        }
    }

    @Test func aTypeMismatchNamesTheColumnAndBothTypes() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool { pool throws in
                let row = try await pool.query("SELECT 'x'::text AS label, 5 AS amount").single()
                let mismatch = #expect(throws: RowDecodingError.self) { try row.decode("label", as: Int.self) }
                #expect(mismatch == .cell(column: "label", columnType: .text, swiftType: "Int", failure: .typeMismatch))
                #expect(mismatch?.description.contains("\"label\" has type text") == true)
                let asString = #expect(throws: RowDecodingError.self) { try row.decode("amount", as: String.self) }
                #expect(asString?.description.contains("integer") == true)
                let missing = #expect(throws: RowDecodingError.self) { try row.decode("nope", as: Int.self) }
                #expect(missing == .missingColumn("nope", available: ["label", "amount"]))
            }
        }
    }

    @Test func affectedRowsAndMultipleRows() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool { pool throws in
                try await pool.execute("CREATE TABLE items (id int PRIMARY KEY, label text)")
                let inserted = try await pool.execute(
                    "INSERT INTO items SELECT n, 'item ' || n FROM generate_series(1, $1::int) AS n",
                    [250]
                )
                #expect(inserted == 250)
                let rows = try await pool.query("SELECT id, label FROM items WHERE id > $1 ORDER BY id", [200])
                #expect(rows.count == 50)
                #expect(try rows.map { try $0.decode("id", as: Int.self) } == Array(201...250))
                #expect(try rows.last?.decode("label", as: String.self) == "item 250")
                #expect(try await pool.execute("DELETE FROM items WHERE id <= $1", [10]) == 10)
            }
        }
    }
}
