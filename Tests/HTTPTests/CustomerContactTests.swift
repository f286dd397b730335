import CustodianCore
import CustodianHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

extension ContractClient {
    /// POSTs JSON with `key` and returns the parsed body of a 201, recording an issue otherwise.
    func create(_ path: String, key: String, _ body: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> [String:
        Any]
    {
        let response = try await send(.post, path, headers: headers(key: key, json: true), body: body, sourceLocation: sourceLocation)
        #expect(response.status == .created, "\(response.text)", sourceLocation: sourceLocation)
        return try response.json()
    }
}

@Suite("Customers")
struct CustomerTests {
    @Test func createReadUpdateDelete() async throws {
        try await StaffFixture.withApp { fixture, client in
            let key = try await fixture.key(role: .staff)
            let created = try await client.send(
                .post, "/v1/customers", headers: headers(key: key, json: true),
                body:
                    #"{"company": "Acme GmbH", "vat_number": "DE123456789", "billing_country": "de", "billing_street": "Hauptstr. 1\nHinterhaus"}"#
            )
            #expect(created.status == .created)
            let body = try created.json()
            let id = try #require(body["id"] as? String)
            #expect(body["billing_country"] as? String == "DE")
            #expect(body["active"] as? Bool == true)
            #expect(body["phone"] is NSNull)
            #expect((body["custom_fields"] as? [String: Any])?.isEmpty == true)
            #expect(created.headers[.location] == "/v1/customers/\(id)")

            let patched = try await client.send(
                .patch, "/v1/customers/\(id)", headers: headers(key: key, json: true, ifMatch: "\"1\""),
                body: #"{"phone": "+49 30 123", "vat_number": null}"#
            )
            #expect(patched.status == .ok)
            #expect(patched.headers[.eTag] == "\"2\"")
            let after = try patched.json()
            #expect(after["phone"] as? String == "+49 30 123")
            #expect(after["vat_number"] is NSNull)
            #expect(after["company"] as? String == "Acme GmbH")

            let stale = try await client.send(
                .patch, "/v1/customers/\(id)", headers: headers(key: key, json: true, ifMatch: "\"1\""), body: #"{"company": "Lost"}"#
            )
            #expect(stale.status == .preconditionFailed)
            let staleDelete = try await client.send(.delete, "/v1/customers/\(id)", headers: headers(key: key, ifMatch: "\"1\""))
            #expect(staleDelete.status == .preconditionFailed)
            #expect(
                try await client.send(.get, "/v1/customers/\(id)", headers: headers(key: key)).json()["company"] as? String == "Acme GmbH")

            #expect(try await client.send(.delete, "/v1/customers/\(id)", headers: headers(key: key)).status == .noContent)
            #expect(try await client.send(.get, "/v1/customers/\(id)", headers: headers(key: key)).status == .notFound)
            #expect(try await client.send(.delete, "/v1/customers/\(id)", headers: headers(key: key)).status == .notFound)
        }
    }

    @Test func writesRecordWhoAndWhen() async throws {
        try await StaffFixture.withApp { fixture, client in
            let key = try await fixture.key(role: .staff, name: "Writer")
            let id = try #require(try await client.create("/v1/customers", key: key, #"{"company": "Tracked"}"#)["id"] as? String)
            let row = try await fixture.pool.query(
                "SELECT s.name FROM customers c JOIN staff s ON s.id = c.created_by WHERE c.id = $1::uuid AND c.updated_by = c.created_by",
                [id]
            ).single()
            #expect(try row.decode("name", as: String.self) == "Writer")
        }
    }

    @Test func readonlyMayReadButNotWrite() async throws {
        try await StaffFixture.withApp { fixture, client in
            let readonly = try await fixture.key(role: .readonly)
            #expect(try await client.send(.get, "/v1/customers", headers: headers(key: readonly)).status == .ok)
            let refused = try await client.send(
                .post, "/v1/customers", headers: headers(key: readonly, json: true), body: #"{"company": "X"}"#)
            #expect(refused.status == .forbidden)
            #expect(try await client.send(.get, "/v1/customers", headers: headers(key: nil)).status == .unauthorized)
        }
    }

    @Test func invalidAndHostileInputNeverWrites() async throws {
        try await StaffFixture.withApp { fixture, client in
            let key = try await fixture.key(role: .staff)
            let cases: [(String, Set<String>)] = [
                (#"{"company": "", "country": "Germany", "active": "yes", "colour": "red"}"#, ["company", "country", "active", "colour"]),
                (#"{"company": "Acme", "custom_fields": {"size": 5}}"#, ["custom_fields.size"]),
                (#"{"company": "Acme", "custom_fields": [1]}"#, ["custom_fields"]),
                (#"{"company": "\#(String(repeating: "x", count: 201))"}"#, ["company"]),
                (#"{"company": null}"#, ["company"]),
            ]
            for (body, fields) in cases {
                let response = try await client.send(.post, "/v1/customers", headers: headers(key: key, json: true), body: body)
                #expect(response.status == .unprocessableContent, "\(body)")
                let reported = try #require(try response.json()["errors"] as? [[String: String]]).compactMap { $0["field"] }
                #expect(Set(reported) == fields, "\(body)")
            }
            let hostile = ["' OR 1=1 --", "%", "_", "\\", "Robert'); DROP TABLE customers;--", "🙂"]
            for search in hostile {
                let encoded = search.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
                #expect(try await client.send(.get, "/v1/customers?q=\(encoded)", headers: headers(key: key)).status == .ok)
            }
            let invalidUTF8 = Array(#"{"company": ""#.utf8) + [0xFF, 0xFE] + Array(#""}"#.utf8)
            let garbled = try await client.send(.post, "/v1/customers", headers: headers(key: key, json: true), bytes: invalidUTF8)
            #expect(garbled.status == .badRequest)
            let count: Int = try await fixture.pool.query("SELECT count(*) AS n FROM customers").single().decode("n")
            #expect(count == 0)
        }
    }

    @Test func listsFilterSearchAndPage() async throws {
        try await StaffFixture.withApp { fixture, client in
            let key = try await fixture.key(role: .staff)
            for (company, active) in [("Acme", true), ("acme labs", false), ("Beta 100%", true), ("Gamma", true)] {
                _ = try await client.create("/v1/customers", key: key, #"{"company": "\#(company)", "active": \#(active)}"#)
            }
            func companies(_ query: String) async throws -> [String] {
                let page = try await client.send(.get, "/v1/customers?\(query)", headers: headers(key: key)).json()
                return (page["data"] as? [[String: Any]] ?? []).compactMap { $0["company"] as? String }
            }
            #expect(try await companies("q=ACME") == ["Acme", "acme labs"])
            #expect(try await companies("q=acme&active=true") == ["Acme"])
            #expect(try await companies("q=beta%20100%25") == ["Beta 100%"])
            // LIKE's wildcards match themselves: "%" finds the one company with a percent sign.
            #expect(try await companies("q=%25") == ["Beta 100%"])
            #expect(try await companies("q=_") == [])
            #expect(try await companies("q=abs") == ["acme labs"])
            #expect(try await companies("active=false") == ["acme labs"])
            #expect(try await companies("created_before=2000-01-01T00:00:00Z") == [])
            #expect(try await companies("created_from=2000-01-01T00:00:00Z&limit=3").count == 3)
            let next = try await client.send(.get, "/v1/customers?limit=3", headers: headers(key: key)).json()["next_cursor"] as? String
            let rest = try await companies("limit=3&cursor=\(try #require(next))")
            #expect(rest == ["Gamma"])
            #expect(
                try await client.send(.get, "/v1/customers?created_from=yesterday", headers: headers(key: key)).status
                    == .unprocessableContent)
        }
    }
}

@Suite("Contacts and the one-primary-contact rule")
struct ContactTests {
    private func customer(_ client: ContractClient, key: String) async throws -> String {
        try #require(
            try await client.create("/v1/customers", key: key, #"{"company": "Acme \#(UUID().uuidString.prefix(6))"}"#)["id"] as? String)
    }

    private func contact(_ client: ContractClient, key: String, customer: String, email: String, primary: Bool? = nil) async throws
        -> [String: Any]
    {
        let flag = primary.map { #", "is_primary": \#($0)"# } ?? ""
        return try await client.create(
            "/v1/contacts", key: key,
            #"{"customer_id": "\#(customer)", "first_name": "Kim", "last_name": "Ng", "email": "\#(email)"\#(flag)}"#
        )
    }

    private func primaries(_ pool: PostgresPool, customer: String) async throws -> [String] {
        try await pool.query(
            "SELECT email FROM contacts WHERE customer_id = $1::uuid AND is_primary ORDER BY email", [customer]
        ).map { try $0.decode("email") }
    }

    @Test func theFirstContactIsPrimaryAndTheFlagMoves() async throws {
        try await StaffFixture.withApp { fixture, client in
            let key = try await fixture.key(role: .staff)
            let acme = try await customer(client, key: key)
            let first = try await contact(client, key: key, customer: acme, email: "first@example.org", primary: false)
            #expect(first["is_primary"] as? Bool == true)
            let second = try await contact(client, key: key, customer: acme, email: "second@example.org")
            #expect(second["is_primary"] as? Bool == false)
            let third = try await contact(client, key: key, customer: acme, email: "third@example.org", primary: true)
            #expect(third["is_primary"] as? Bool == true)
            #expect(try await primaries(fixture.pool, customer: acme) == ["third@example.org"])

            let secondID = try #require(second["id"] as? String)
            let moved = try await client.send(
                .patch, "/v1/contacts/\(secondID)", headers: headers(key: key, json: true), body: #"{"is_primary": true}"#
            )
            #expect(moved.status == .ok)
            #expect(try await primaries(fixture.pool, customer: acme) == ["second@example.org"])

            let unset = try await client.send(
                .patch, "/v1/contacts/\(secondID)", headers: headers(key: key, json: true), body: #"{"is_primary": false}"#
            )
            #expect(unset.status == .conflict)

            #expect(try await client.send(.delete, "/v1/contacts/\(secondID)", headers: headers(key: key)).status == .noContent)
            #expect(try await primaries(fixture.pool, customer: acme) == ["first@example.org"])

            let filtered = try await client.send(.get, "/v1/contacts?customer_id=\(acme)&is_primary=true", headers: headers(key: key))
                .json()
            #expect((filtered["data"] as? [[String: Any]])?.compactMap { $0["email"] as? String } == ["first@example.org"])
        }
    }

    @Test func theDatabaseItselfRefusesACustomerWithoutPrimary() async throws {
        try await StaffFixture.withApp { fixture, client in
            let key = try await fixture.key(role: .staff)
            let acme = try await customer(client, key: key)
            _ = try await contact(client, key: key, customer: acme, email: "only@example.org")
            let noPrimary = try await #require(throws: PostgresError.self) {
                try await fixture.pool.execute("UPDATE contacts SET is_primary = false WHERE customer_id = $1::uuid", [acme])
            }
            #expect(noPrimary.kind == .checkViolation)
            let second = try await #require(throws: PostgresError.self) {
                try await fixture.pool.execute(
                    "INSERT INTO contacts (customer_id, first_name, last_name, email, is_primary) VALUES ($1::uuid, 'A', 'B', 'b@example.org', true)",
                    [acme]
                )
            }
            #expect(second.kind == .uniqueViolation)
        }
    }

    @Test func twoConcurrentPrimaryClaimsLeaveExactlyOnePrimary() async throws {
        try await StaffFixture.withApp { fixture, client in
            let key = try await fixture.key(role: .staff)
            for round in 0..<5 {
                let acme = try await customer(client, key: key)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<2 {
                        group.addTask {
                            _ = try await contact(client, key: key, customer: acme, email: "r\(round)-\(index)@example.org", primary: true)
                        }
                    }
                    try await group.waitForAll()
                }
                #expect(try await primaries(fixture.pool, customer: acme).count == 1)
                let total: Int = try await fixture.pool.query(
                    "SELECT count(*) AS n FROM contacts WHERE customer_id = $1::uuid", [acme]
                ).single().decode("n")
                #expect(total == 2)
            }
        }
    }

    @Test func emailsAreUniqueIgnoringCaseAndCustomersMustExist() async throws {
        try await StaffFixture.withApp { fixture, client in
            let key = try await fixture.key(role: .staff)
            let acme = try await customer(client, key: key)
            _ = try await contact(client, key: key, customer: acme, email: "kim@example.org")
            let duplicate = try await client.send(
                .post, "/v1/contacts", headers: headers(key: key, json: true),
                body: #"{"customer_id": "\#(acme)", "first_name": "K", "last_name": "N", "email": "KIM@example.org"}"#
            )
            #expect(duplicate.status == .conflict)
            #expect((try duplicate.json()["errors"] as? [[String: String]])?.first?["field"] == "email")
            let orphan = try await client.send(
                .post, "/v1/contacts", headers: headers(key: key, json: true),
                body: #"{"customer_id": "\#(UUID())", "first_name": "K", "last_name": "N", "email": "new@example.org"}"#
            )
            #expect(orphan.status == .unprocessableContent)
            #expect((try orphan.json()["errors"] as? [[String: String]])?.first?["field"] == "customer_id")
            let count: Int = try await fixture.pool.query("SELECT count(*) AS n FROM contacts").single().decode("n")
            #expect(count == 1)
        }
    }

    @Test func deletingACustomerDeletesItsContacts() async throws {
        try await StaffFixture.withApp { fixture, client in
            let key = try await fixture.key(role: .staff)
            let acme = try await customer(client, key: key)
            _ = try await contact(client, key: key, customer: acme, email: "a@example.org")
            _ = try await contact(client, key: key, customer: acme, email: "b@example.org")
            #expect(try await client.send(.delete, "/v1/customers/\(acme)", headers: headers(key: key)).status == .noContent)
            let count: Int = try await fixture.pool.query("SELECT count(*) AS n FROM contacts").single().decode("n")
            #expect(count == 0)
        }
    }
}
