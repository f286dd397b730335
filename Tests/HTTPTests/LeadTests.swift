import CustodianCore
import CustodianHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

@Suite("Leads and their conversion")
struct LeadTests {
    @Test func createFilterAndUpdate() async throws {
        try await StaffFixture.withApp { fixture, client in
            let key = try await fixture.key(role: .staff)
            let owner: String = try await fixture.pool.query("SELECT id::text AS id FROM staff WHERE name = 'Ada Admin'").single().decode(
                "id")
            let lead = try await client.create(
                "/v1/leads", key: key,
                #"{"name": "Ada Lovelace", "email": "ada@engines.example", "source": "web-form", "assignee_id": "\#(owner)", "last_contacted_at": "2026-11-01T10:00:00Z"}"#
            )
            #expect(lead["status"] as? String == "new")
            #expect(lead["converted_at"] is NSNull)
            #expect(lead["last_contacted_at"] as? String == "2026-11-01T10:00:00.000Z")
            _ = try await client.create("/v1/leads", key: key, #"{"name": "Charles Babbage", "source": "fair", "status": "qualified"}"#)

            func names(_ query: String) async throws -> [String] {
                let page = try await client.send(.get, "/v1/leads?\(query)", headers: headers(key: key)).json()
                return (page["data"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            }
            #expect(try await names("source=web-form") == ["Ada Lovelace"])
            #expect(try await names("status=qualified") == ["Charles Babbage"])
            #expect(try await names("assignee_id=\(owner)") == ["Ada Lovelace"])
            // A part of the name, company or email, anywhere in it, whatever the case and accents.
            #expect(try await names("q=engines") == ["Ada Lovelace"])
            #expect(try await names("q=ADA") == ["Ada Lovelace"])
            #expect(try await names("q=L%C3%93VEL") == ["Ada Lovelace"])
            #expect(try await names("q=bbag") == ["Charles Babbage"])
            #expect(try await names("q=lovelace%20x") == [])
            // A query string is form-encoded: `+` is a space, as Python's httpx and requests send it.
            #expect(try await names("q=ada+lovelace") == ["Ada Lovelace"])
            #expect(try await names("q=ada%2Blovelace") == [])
            #expect(try await client.send(.get, "/v1/leads?q=%E0%A4", headers: headers(key: key)).status == .badRequest)

            let id = try #require(lead["id"] as? String)
            let unknownOwner = try await client.send(
                .patch, "/v1/leads/\(id)", headers: headers(key: key, json: true), body: #"{"assignee_id": "\#(UUID())"}"#
            )
            #expect(unknownOwner.status == .unprocessableContent)
            let unassigned = try await client.send(
                .patch, "/v1/leads/\(id)", headers: headers(key: key, json: true), body: #"{"assignee_id": null, "status": "contacted"}"#
            )
            #expect(unassigned.status == .ok)
            #expect(try unassigned.json()["assignee_id"] is NSNull)
            let readOnly = try await client.send(
                .patch, "/v1/leads/\(id)", headers: headers(key: key, json: true), body: #"{"converted_at": "2026-01-01T00:00:00Z"}"#
            )
            #expect(readOnly.status == .unprocessableContent)
        }
    }

    @Test func conversionCreatesCustomerAndPrimaryContactAndLinksThem() async throws {
        try await StaffFixture.withApp { fixture, client in
            let key = try await fixture.key(role: .staff)
            let lead = try await client.create(
                "/v1/leads", key: key,
                #"{"name": "Ada King Lovelace", "company": "Analytical Engines Ltd", "email": "ada@engines.example", "phone": "+44 20 1", "country": "GB"}"#
            )
            let id = try #require(lead["id"] as? String)
            let response = try await client.send(.post, "/v1/leads/\(id)/convert", headers: headers(key: key))
            #expect(response.status == .created)
            let body = try response.json()
            let customer = try #require(body["customer"] as? [String: Any])
            let contact = try #require(body["contact"] as? [String: Any])
            let converted = try #require(body["lead"] as? [String: Any])
            #expect(customer["company"] as? String == "Analytical Engines Ltd")
            #expect(customer["billing_country"] as? String == "GB")
            #expect(contact["first_name"] as? String == "Ada King")
            #expect(contact["last_name"] as? String == "Lovelace")
            #expect(contact["is_primary"] as? Bool == true)
            #expect(contact["customer_id"] as? String == customer["id"] as? String)
            #expect(converted["converted_customer_id"] as? String == customer["id"] as? String)
            #expect(converted["converted_contact_id"] as? String == contact["id"] as? String)
            #expect(response.headers[.location] == "/v1/customers/\(customer["id"] as? String ?? "")")

            let again = try await client.send(.post, "/v1/leads/\(id)/convert", headers: headers(key: key))
            #expect(again.status == .conflict)
        }
    }

    @Test func aConversionThatFailsHalfwayLeavesNothing() async throws {
        try await StaffFixture.withApp { fixture, client in
            let key = try await fixture.key(role: .staff)
            let acme = try #require(try await client.create("/v1/customers", key: key, #"{"company": "Acme"}"#)["id"] as? String)
            _ = try await client.create(
                "/v1/contacts", key: key,
                #"{"customer_id": "\#(acme)", "first_name": "Kim", "last_name": "Ng", "email": "taken@example.org"}"#
            )
            // The customer insert succeeds, then the contact insert hits the taken email.
            let lead = try await client.create(
                "/v1/leads", key: key, #"{"name": "Kim Ng", "company": "Other Co", "email": "TAKEN@example.org"}"#)
            let id = try #require(lead["id"] as? String)
            let response = try await client.send(.post, "/v1/leads/\(id)/convert", headers: headers(key: key))
            #expect(response.status == .conflict)
            #expect(try response.json()["type"] as? String == "urn:custodian:problem:duplicate")
            let customers: Int = try await fixture.pool.query("SELECT count(*) AS n FROM customers").single().decode("n")
            #expect(customers == 1)
            let stillOpen = try await client.send(.get, "/v1/leads/\(id)", headers: headers(key: key)).json()
            #expect(stillOpen["converted_at"] is NSNull)

            let noEmail = try #require(try await client.create("/v1/leads", key: key, #"{"name": "Anon"}"#)["id"] as? String)
            let refused = try await client.send(.post, "/v1/leads/\(noEmail)/convert", headers: headers(key: key))
            #expect(refused.status == .unprocessableContent)
            #expect(try await client.send(.post, "/v1/leads/\(UUID())/convert", headers: headers(key: key)).status == .notFound)
        }
    }
}

@Suite("Notes on leads, customers and contacts")
struct NoteTests {
    @Test func notesAreAddedListedAndGoWithTheirRecord() async throws {
        try await StaffFixture.withApp { fixture, client in
            let key = try await fixture.key(role: .staff, name: "Note Taker")
            let acme = try #require(try await client.create("/v1/customers", key: key, #"{"company": "Acme"}"#)["id"] as? String)
            for index in 1...3 {
                let note = try await client.create("/v1/customers/\(acme)/notes", key: key, #"{"text": "Call \#(index)"}"#)
                #expect(note["text"] as? String == "Call \(index)")
            }
            let first = try await client.send(.get, "/v1/customers/\(acme)/notes?limit=2", headers: headers(key: key)).json()
            #expect((first["data"] as? [[String: Any]])?.compactMap { $0["text"] as? String } == ["Call 1", "Call 2"])
            let cursor = try #require(first["next_cursor"] as? String)
            let second = try await client.send(.get, "/v1/customers/\(acme)/notes?limit=2&cursor=\(cursor)", headers: headers(key: key))
                .json()
            #expect((second["data"] as? [[String: Any]])?.compactMap { $0["text"] as? String } == ["Call 3"])
            #expect(second["next_cursor"] is NSNull)

            let lead = try #require(try await client.create("/v1/leads", key: key, #"{"name": "Lee"}"#)["id"] as? String)
            let empty = try await client.send(.get, "/v1/leads/\(lead)/notes", headers: headers(key: key)).json()
            #expect((empty["data"] as? [Any])?.isEmpty == true)
            #expect(try await client.send(.get, "/v1/contacts/\(UUID())/notes", headers: headers(key: key)).status == .notFound)
            #expect(
                try await client.send(.post, "/v1/leads/\(UUID())/notes", headers: headers(key: key, json: true), body: #"{"text": "x"}"#)
                    .status == .notFound)
            #expect(
                try await client.send(.post, "/v1/leads/\(lead)/notes", headers: headers(key: key, json: true), body: #"{"text": ""}"#)
                    .status == .unprocessableContent)

            #expect(try await client.send(.delete, "/v1/customers/\(acme)", headers: headers(key: key)).status == .noContent)
            let left: Int = try await fixture.pool.query("SELECT count(*) AS n FROM customer_notes").single().decode("n")
            #expect(left == 0)
        }
    }
}
