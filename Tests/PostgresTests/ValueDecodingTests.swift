import Foundation
import Postgres
import TestSupport
import Testing

@Suite("Cells decode as PostgreSQL prints them")
struct ValueDecodingTests {
    @Test func uuidsComeBackAsTheyWentIn() async throws {
        let ids =
            (0..<200).map { _ in UUID() } + [
                UUID(uuidString: "00000000-0000-0000-0000-000000000000")!, UUID(uuidString: "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF")!,
            ]
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool(maxConnections: 1) { pool in
                let rows = try await pool.query(
                    "SELECT unnest($1::uuid[]) AS id", ["{" + ids.map(\.uuidString).joined(separator: ",") + "}"])
                #expect(try rows.map { try $0.decode("id", as: UUID.self) } == ids)
            }
        }
    }

    /// Cells share one buffer per result: each row and column must still see only its own bytes,
    /// NULL must stay apart from the empty string, and decoding must see the same text.
    @Test func everyCellReadsItsOwnBytes() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool(maxConnections: 1) { pool in
                let rows = try await pool.query(
                    """
                    SELECT n, CASE WHEN n % 3 = 0 THEN NULL ELSE repeat(chr(945 + n % 20), n) END AS text,
                           CASE WHEN n % 2 = 0 THEN '' END AS empty
                    FROM generate_series(0, 40) AS n ORDER BY n
                    """
                )
                #expect(rows.count == 41)
                for (n, row) in rows.enumerated() {
                    let expected = n % 3 == 0 ? nil : String(repeating: String(UnicodeScalar(945 + n % 20)!), count: n)
                    #expect(row.withCellBytes { $0[1].map { String(decoding: $0, as: UTF8.self) } } == expected)
                    #expect(try row.decode("text", as: String?.self) == expected)
                    #expect(row.text(at: 0) == String(n))
                    #expect(row.isNull(at: 1) == (expected == nil))
                    #expect(row.withCellBytes { $0[2]?.count } == (n % 2 == 0 ? 0 : nil))
                    #expect(try row.isNull("empty") == (n % 2 != 0))
                }
            }
        }
    }

    static let uuidTexts = [
        "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "6BA7B810-9DAD-11D1-80B4-00C04FD430C8", "6ba7B810-9DAD-11d1-80b4-00C04fd430c8",
    ]

    @Test(arguments: uuidTexts)
    func uuidTextInEitherCaseReadsAsFoundationReadsIt(text: String) {
        #expect(UUID(postgresText: text, type: .uuid) == UUID(uuidString: text))
        #expect(UUID(postgresText: text, type: .uuid) != nil)
    }

    static let notUUIDs = [
        "", "6ba7b810-9dad-11d1-80b4-00c04fd430c", "6ba7b810-9dad-11d1-80b4-00c04fd430c80", "6ba7b8109dad11d180b400c04fd430c8",
        "6ba7b810-9dad-11d1-80b4_00c04fd430c8", "6ba7b810-9dad-11d1-80b4-00c04fd430cg", "g6ba7b810-9dad-11d1-80b4-00c04fd430c",
        "6ba7b810-9dad-11d1-80b400-c04fd430c8", "{6ba7b810-9dad-11d1-80b4-00c04fd430c8}", "6ba7b810-9dad-11d1-80b4-00c04fd430cä",
        "not-a-uuid", "0000000-0000-0000-0000-000000000000x",
    ]

    @Test(arguments: notUUIDs)
    func anythingElseIsNotAUUID(text: String) {
        #expect(UUID(postgresText: text, type: .uuid) == nil)
        #expect(UUID(uuidString: text) == nil)
    }
}
