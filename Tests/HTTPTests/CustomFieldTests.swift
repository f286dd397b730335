import CustodianCore
import CustodianHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

@Suite("Custom fields: definitions and typed values")
struct CustomFieldTests {
    private func define(_ client: ContractClient, key: String, _ body: String) async throws -> [String: Any] {
        try await client.create("/v1/custom-fields", key: key, body)
    }

    @Test func valuesAreCheckedByTypeOnEveryWrite() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            _ = try await define(client, key: admin, #"{"entity": "customer", "key": "size", "label": "Employees", "type": "number"}"#)
            _ = try await define(
                client, key: admin,
                #"{"entity": "customer", "key": "tier", "label": "Tier", "type": "select", "options": ["gold", "silver"], "required": true}"#
            )
            _ = try await define(
                client, key: admin,
                #"{"entity": "customer", "key": "tags", "label": "Tags", "type": "multiselect", "options": ["a", "b", "c"]}"#)
            _ = try await define(client, key: admin, #"{"entity": "customer", "key": "since", "label": "Customer since", "type": "date"}"#)
            _ = try await define(client, key: admin, #"{"entity": "customer", "key": "vip", "label": "VIP", "type": "checkbox"}"#)
            _ = try await define(client, key: admin, #"{"entity": "customer", "key": "motto", "label": "Motto", "type": "text"}"#)
            _ = try await define(client, key: admin, #"{"entity": "contact", "key": "shoe_size", "label": "Shoe size", "type": "number"}"#)

            let created = try await client.create(
                "/v1/customers", key: admin,
                #"{"company": "Acme", "custom_fields": {"size": 12, "tier": "gold", "tags": ["a", "c"], "since": "2024-02-29", "vip": true, "motto": " Onward "}}"#
            )
            let values = try #require(created["custom_fields"] as? [String: Any])
            #expect(values["size"] as? Int == 12)
            #expect(values["tags"] as? [String] == ["a", "c"])
            #expect(values["motto"] as? String == "Onward")

            let bad = try await client.send(
                .post, "/v1/customers", headers: headers(key: admin, json: true),
                body:
                    #"{"company": "Bad", "custom_fields": {"size": "twelve", "tier": "bronze", "tags": ["a", "a"], "since": "2023-02-29", "vip": "yes", "motto": "", "shoe_size": 42}}"#
            )
            #expect(bad.status == .unprocessableContent)
            let fields = Set(try #require(try bad.json()["errors"] as? [[String: String]]).compactMap { $0["field"] })
            #expect(
                fields == [
                    "custom_fields.size", "custom_fields.tier", "custom_fields.tags", "custom_fields.since",
                    "custom_fields.vip", "custom_fields.motto", "custom_fields.shoe_size",
                ])

            let missingRequired = try await client.send(
                .post, "/v1/customers", headers: headers(key: admin, json: true), body: #"{"company": "No tier"}"#
            )
            #expect(missingRequired.status == .unprocessableContent)
            #expect((try missingRequired.json()["errors"] as? [[String: String]])?.first?["field"] == "custom_fields.tier")

            // PATCH merges: keys sent change, null removes, the rest stays; a required field stays.
            let id = try #require(created["id"] as? String)
            let patched = try await client.send(
                .patch, "/v1/customers/\(id)", headers: headers(key: admin, json: true),
                body: #"{"custom_fields": {"size": 13, "motto": null}}"#
            )
            #expect(patched.status == .ok)
            let after = try #require(try patched.json()["custom_fields"] as? [String: Any])
            #expect(after["size"] as? Int == 13)
            #expect(after["motto"] == nil)
            #expect(after["tier"] as? String == "gold")
            let clearRequired = try await client.send(
                .patch, "/v1/customers/\(id)", headers: headers(key: admin, json: true), body: #"{"custom_fields": {"tier": null}}"#
            )
            #expect(clearRequired.status == .unprocessableContent)
            let unrelated = try await client.send(
                .patch, "/v1/customers/\(id)", headers: headers(key: admin, json: true), body: #"{"phone": "+1 555"}"#
            )
            #expect(try #require(try unrelated.json()["custom_fields"] as? [String: Any])["size"] as? Int == 13)
        }
    }

    @Test func retiredFieldsCannotBeWrittenButKeepTheirValues() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            let field = try await define(client, key: admin, #"{"entity": "lead", "key": "budget", "label": "Budget", "type": "number"}"#)
            let fieldID = try #require(field["id"] as? String)
            let lead = try await client.create("/v1/leads", key: admin, #"{"name": "Lee", "custom_fields": {"budget": 1000}}"#)
            let leadID = try #require(lead["id"] as? String)
            let retired = try await client.send(
                .patch, "/v1/custom-fields/\(fieldID)", headers: headers(key: admin, json: true, ifMatch: "\"1\""),
                body: #"{"active": false}"#
            )
            #expect(retired.status == .ok)
            #expect(try retired.json()["active"] as? Bool == false)
            let write = try await client.send(
                .patch, "/v1/leads/\(leadID)", headers: headers(key: admin, json: true), body: #"{"custom_fields": {"budget": 5}}"#
            )
            #expect(write.status == .unprocessableContent)
            let read = try await client.send(.get, "/v1/leads/\(leadID)", headers: headers(key: admin)).json()
            #expect((read["custom_fields"] as? [String: Any])?["budget"] as? Int == 1000)
            let activeOnly = try await client.send(.get, "/v1/custom-fields?entity=lead&active=true", headers: headers(key: admin)).json()
            #expect((activeOnly["data"] as? [Any])?.isEmpty == true)
        }
    }

    @Test func definitionsAreValidatedAndAdminOnly() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            let staff = try await fixture.key(role: .staff)
            let body = #"{"entity": "contact", "key": "nickname", "label": "Nickname", "type": "text"}"#
            #expect(
                try await client.send(.post, "/v1/custom-fields", headers: headers(key: staff, json: true), body: body).status == .forbidden
            )
            #expect(try await client.send(.get, "/v1/custom-fields", headers: headers(key: staff)).status == .ok)
            _ = try await define(client, key: admin, body)
            let duplicate = try await client.send(.post, "/v1/custom-fields", headers: headers(key: admin, json: true), body: body)
            #expect(duplicate.status == .conflict)
            for invalid in [
                #"{"entity": "contact", "key": "Bad Key", "label": "x", "type": "text"}"#,
                #"{"entity": "contact", "key": "colour", "label": "x", "type": "select"}"#,
                #"{"entity": "contact", "key": "colour", "label": "x", "type": "text", "options": ["red"]}"#,
                #"{"entity": "contact", "key": "colour", "label": "x", "type": "select", "options": ["red", "red"]}"#,
                #"{"entity": "invoice", "key": "colour", "label": "x", "type": "text"}"#,
                #"{"entity": "contact", "key": "colour", "label": "x", "type": "color"}"#,
            ] {
                let response = try await client.send(.post, "/v1/custom-fields", headers: headers(key: admin, json: true), body: invalid)
                #expect(response.status == .unprocessableContent, "\(invalid)")
            }
        }
    }
}
