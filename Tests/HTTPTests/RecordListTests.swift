import CustodianCore
import Foundation
import HTTPTypes
import Postgres
import TestSupport
import Testing

@Suite("Record lists and feeds are written straight from the rows, byte for byte as single reads")
struct RecordListTests {
    /// Every upsert line of the feed at `path` must carry, as its `record`, the single read's bytes.
    static func expectFeedMatchesReads(
        _ client: ContractClient, key: String, feed: String, path: String, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> Int {
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(key)"
        let poll = try await client.send(.get, feed, headers: headers)
        #expect(poll.status == .ok, sourceLocation: sourceLocation)
        var compared = 0
        for line in poll.text.split(separator: "\n") where line.hasPrefix(#"{"op":"upsert""#) {
            let record = try #require(line.range(of: #","record":"#).map { line[$0.upperBound..<line.index(before: line.endIndex)] })
            let id = try #require(try JSONSerialization.jsonObject(with: Data(record.utf8)) as? [String: Any])["id"] as? String
            let read = try await client.send(.get, "\(path)/\(try #require(id))", headers: headers)
            #expect(String(record) == read.text, sourceLocation: sourceLocation)
            compared += 1
        }
        return compared
    }

    /// A list page must be `{"data":[` + the single reads of its records + `],"next_cursor":…}`.
    static func expectListMatchesReads(
        _ client: ContractClient, key: String, path: String, query: String, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> Int {
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(key)"
        var cursor: String?
        var seen = 0
        repeat {
            let after = cursor.map { "&cursor=\($0)" } ?? ""
            let list = try await client.send(.get, "\(path)?\(query)&limit=3\(after)", headers: headers)
            #expect(list.status == .ok, sourceLocation: sourceLocation)
            let page = try list.json()
            let ids = try #require(page["data"] as? [[String: Any]]).compactMap { $0["id"] as? String }
            var reads: [String] = []
            for id in ids {
                reads.append(try await client.send(.get, "\(path)/\(id)", headers: headers).text)
            }
            cursor = page["next_cursor"] as? String
            let tail = cursor.map { #""\#($0)""# } ?? "null"
            #expect(list.text == #"{"data":[\#(reads.joined(separator: ","))],"next_cursor":\#(tail)}"#, sourceLocation: sourceLocation)
            seen += ids.count
        } while cursor != nil
        return seen
    }

    /// Every length of fraction PostgreSQL prints, none, and the ends of the range.
    static let instants = [
        "2026-01-01 00:00:00.0004+00", "2026-12-31 23:59:59.9995+00", "1999-06-15 12:00:00+00", "2026-03-04 05:06:07.1+00",
        "2026-03-04 05:06:07.12+00", "2026-03-04 05:06:07.123+00", "2026-03-04 05:06:07.12345+00", "0001-01-01 00:00:00+00",
        "9999-12-31 23:59:59.999999+00", "1969-12-31 23:59:59.9999+00",
    ]

    @Test func leadsContactsAndCustomersWithAwkwardValuesListAsTheyRead() async throws {
        try await StaffFixture.withApp { fixture, client in
            let marker = SeededPerson.marker()
            // Values a writer must escape or convert: quotes, backslashes, control characters,
            // non-ASCII, NULLs, timestamps at millisecond rounding edges, nested custom fields
            // whose keys jsonb orders differently from the API.
            try await fixture.database.withPool(role: .owner) { owner in
                try await owner.execute(
                    """
                    INSERT INTO customers (company, vat_number, billing_street, billing_country, active, custom_fields)
                    VALUES ($1, NULL, E'line one\\nline "two"\\ttabbed \\\\ back', 'DE', false, '{"zeta": {"bb": [1, 2.5, null], "a": "x"}, "b": true}')
                    """,
                    ["\(marker) Müller & Söhne \u{1F600}"]
                )
                try await owner.execute(
                    """
                    INSERT INTO contacts (customer_id, first_name, last_name, email, phone, is_primary, active, email_notifications, created_at)
                    SELECT id, 'Zoë', E'O\\'Brien \\u0001 ctrl', $1 || '@list.example', NULL, true, true, false, '2026-01-02 03:04:05.9996+00'
                    FROM customers WHERE company LIKE $1 || '%'
                    """,
                    [marker]
                )
                for (index, instant) in Self.instants.enumerated() {
                    try await owner.execute(
                        """
                        INSERT INTO leads (name, company, email, status, description, last_contacted_at, converted_at, custom_fields)
                        VALUES ($1, NULL, $2, 'new', E'multi\\r\\nline \\u001f', $3::timestamptz, NULL, $4::jsonb)
                        """,
                        [
                            "\(marker) Lead \(index) \"quoted\"", "\(marker)-\(index)@list.example", instant,
                            index == 0 ? "{}" : #"{"k\#(index)": "v"}"#,
                        ]
                    )
                }
            }
            let key = fixture.adminKey
            #expect(try await Self.expectListMatchesReads(client, key: key, path: "/v1/customers", query: "q=\(marker)") == 1)
            #expect(try await Self.expectListMatchesReads(client, key: key, path: "/v1/contacts", query: "q=\(marker)") == 1)
            #expect(try await Self.expectListMatchesReads(client, key: key, path: "/v1/leads", query: "q=\(marker)") == Self.instants.count)
            #expect(try await Self.expectListMatchesReads(client, key: key, path: "/v1/leads", query: "status=nobody") == 0)
            // The feeds write the same records with the same writer: keys and custom fields' keys
            // in the same order, timestamps converted the same way.
            #expect(try await Self.expectFeedMatchesReads(client, key: key, feed: "/v1/feeds/customers", path: "/v1/customers") >= 1)
            #expect(try await Self.expectFeedMatchesReads(client, key: key, feed: "/v1/feeds/contacts", path: "/v1/contacts") >= 1)
            #expect(
                try await Self.expectFeedMatchesReads(client, key: key, feed: "/v1/feeds/leads", path: "/v1/leads") >= Self.instants.count)
        }
    }

    /// RFC 3339 has no `infinity`, no BC year and no year past 9999: such a time would make the
    /// record unreadable by every writer, so the tables refuse it whoever writes it, and the API
    /// refuses it as input. The ends of the range it can express read back (the test above).
    @Test func timesRFC3339CannotExpressAreRefusedByTheTablesAndTheAPI() async throws {
        try await StaffFixture.withApp { fixture, client in
            let lead = try await client.send(
                .post, "/v1/leads", headers: headers(key: fixture.adminKey, json: true), body: #"{"name": "Timeless", "status": "new"}"#)
            let id = try #require(try lead.json()["id"] as? String)
            let unwritable = ["infinity", "-infinity", "0001-12-31 23:59:59 BC", "10000-01-01 00:00:00+00", "9999-12-31 23:00:00-01"]
            try await fixture.database.withPool(role: .owner) { owner in
                for time in unwritable {
                    for column in ["last_contacted_at", "converted_at", "created_at", "updated_at"] {
                        let error = try await #require(throws: PostgresError.self, "\(column) = \(time)") {
                            try await owner.execute(
                                "INSERT INTO leads (name, status, \(column)) VALUES ('Timeless', 'new', $1::timestamptz)", [time])
                        }
                        #expect(error.kind == .checkViolation && error.constraint == "leads_\(column)_in_rfc3339_range")
                    }
                }
                let customer = try await #require(throws: PostgresError.self) {
                    try await owner.execute("INSERT INTO customers (company, updated_at) VALUES ('Forever', 'infinity')")
                }
                #expect(customer.constraint == "customers_updated_at_in_rfc3339_range")
                let contact = try await #require(throws: PostgresError.self) {
                    try await owner.execute(
                        """
                        WITH c AS (INSERT INTO customers (company) VALUES ('Forever') RETURNING id)
                        INSERT INTO contacts (customer_id, first_name, last_name, email, is_primary, created_at)
                        SELECT id, 'Ever', 'More', 'ever@more.example', true, '-infinity' FROM c
                        """)
                }
                #expect(contact.constraint == "contacts_created_at_in_rfc3339_range")
            }
            let refused = try await client.send(
                .patch, "/v1/leads/\(id)", headers: headers(key: fixture.adminKey, json: true),
                body: #"{"last_contacted_at": "0000-12-31T00:00:00Z"}"#)
            #expect(refused.status == .unprocessableContent)
            #expect(refused.text.contains("last_contacted_at"))
            #expect(try await client.send(.get, "/v1/leads/\(id)", headers: headers(key: fixture.adminKey)).status == .ok)
        }
    }
}
