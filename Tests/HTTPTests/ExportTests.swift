import CustodianCore
import CustodianHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSONText
import Postgres
import TestSupport
import Testing

@Suite("Exports: everything held on a person, in a published format")
struct ExportTests {
    /// The export's text, with the checks every export must pass (the contract client validates
    /// its body against `ExportDocument`).
    static func export(
        _ path: String, key: String?, _ client: ContractClient, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> (text: String, json: [String: Any]) {
        let response = try await client.send(.get, path, headers: headers(key: key), sourceLocation: sourceLocation)
        #expect(response.status == .ok, "\(response.text)", sourceLocation: sourceLocation)
        #expect(response.headers[.cacheControl] == "no-store", sourceLocation: sourceLocation)
        let disposition = response.headers[HTTPField.Name("Content-Disposition")!] ?? ""
        #expect(disposition.hasPrefix("attachment; filename=\"custodian-export-"), sourceLocation: sourceLocation)
        return (response.text, try response.json())
    }

    static func section(_ document: [String: Any], _ name: String) -> String {
        guard let value = document[name] else { return "" }
        return String(decoding: (try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed])) ?? Data(), as: UTF8.self)
    }

    @Test func anExportHoldsEveryValueWrittenForThePersonAndNothingOfAnyoneElse() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            let person = try await client.seedPerson(key: admin)
            let neighbour = try await client.send(.get, "/v1/contacts/\(person.firstNeighbour)", headers: headers(key: admin)).json()
            let other = try await client.send(.get, "/v1/contacts/\(person.secondNeighbour)", headers: headers(key: admin)).json()
            let staffKey = try await fixture.key(role: .staff)

            let (text, document) = try await Self.export("/v1/contacts/\(person.contact)/export", key: staffKey, client)
            for needle in person.needles where !needle.hasPrefix("erase me") {
                #expect(text.contains(needle), "\(needle) is held on the person, so it is in their export")
            }
            for foreign in [neighbour, other] {
                for field in ["email", "last_name", "id"] {
                    let value = try #require(foreign[field] as? String)
                    #expect(!text.contains(value), "\(field) of another person")
                }
            }
            let r = person.marker
            let subject = try #require(document["subject"] as? [String: Any])
            #expect(subject["kind"] as? String == "contact" && subject["id"] as? String == person.contact)
            #expect(subject["lead_ids"] as? [String] == [person.lead] && subject["contact_ids"] as? [String] == [person.contact])
            #expect(document["left_out"] as? [String] == [])
            #expect((document["sections"] as? [String])?.starts(with: PersonExports.namedSections) == true)

            // Field by field, as the API answers them.
            let contact = try await client.send(.get, "/v1/contacts/\(person.contact)", headers: headers(key: admin)).json()
            let profile = try #require(document["profile"] as? [String: Any])
            for field in ["first_name", "last_name", "email", "phone", "customer_id", "is_primary", "created_at", "updated_at"] {
                #expect("\(profile[field] ?? "absent")" == "\(contact[field] ?? "absent")", "\(field)")
            }
            let customer = try #require(document["customer"] as? [String: Any])
            #expect(customer["id"] as? String == person.customer, "the contact is its customer's primary contact")
            let fields = try #require(document["custom_fields"] as? [[String: Any]])
            #expect(fields.count == 1)
            #expect(fields.first?["key"] as? String == "nickname" && fields.first?["label"] as? String == "Nickname")
            #expect(fields.first?["value"] as? String == "Zed\(r)" && fields.first?["type"] as? String == "text")
            let notes = Self.section(document, "notes")
            #expect(notes.contains("contact note \(r)") && notes.contains("lead note \(r)"), "the lead it was is the same person")
            let consents = try #require(document["consents"] as? [String: Any])
            let state = try #require(consents["state"] as? [[String: Any]])
            #expect(state.count == 1 && state.first?["state"] as? String == "withdrawn")
            #expect(state.first?["description"] as? String == "Monthly news by email.", "the purpose as the person saw it")
            let history = try #require(consents["history"] as? [[String: Any]])
            #expect(history.count == 3, "the lead's consent, its copy carried to the contact, the withdrawal")
            for record in history {
                for field in ["recorded_at", "channel", "ip", "user_agent", "hash", "prev_hash", "purpose"] {
                    #expect(record.keys.contains(field), "\(field)")
                }
            }
            let requests = try #require(document["requests"] as? [[String: Any]])
            #expect(requests.count == 1 && requests.first?["details"] as? String == "send me my data \(r)")
            #expect((requests.first?["history"] as? [Any])?.isEmpty == false)
            let convertedFrom = try #require(document["converted_from"] as? [[String: Any]])
            #expect(
                convertedFrom.first?["id"] as? String == person.lead && convertedFrom.first?["name"] as? String == "Zelda\(r) Quill\(r)")
            #expect(document["converted_to"] is NSNull)
            #expect(!text.contains("key_hash") && !text.contains("token_hash"), "credentials are never exported")

            // The lead's own export names the contact it became.
            let (_, leadDocument) = try await Self.export("/v1/leads/\(person.lead)/export", key: staffKey, client)
            let convertedTo = try #require(leadDocument["converted_to"] as? [String: Any])
            #expect(convertedTo["customer_id"] as? String == person.customer)
            #expect(
                ((leadDocument["profile"] as? [String: Any])?["custom_fields"] as? [String: Any])?["hobby"] as? String == "falconry\(r)")

            // Both were recorded, with their size.
            let records = try await Self.eventually {
                try await client.send(.get, "/v1/contacts/\(person.contact)/exports", headers: headers(key: admin)).json()
            }
            let record = try #require((records["data"] as? [[String: Any]])?.first)
            #expect(record["audience"] as? String == "staff" && record["byte_size"] as? Int == text.utf8.count)
            #expect(record["sections"] as? [String] == document["sections"] as? [String])
            #expect(record["exported_by"] as? String != nil && record["request_id"] is NSNull)
            let readonly = try await fixture.key(role: .readonly)
            #expect(
                try await client.send(.get, "/v1/contacts/\(person.contact)/export", headers: headers(key: readonly)).status == .forbidden)
            #expect(try await client.send(.get, "/v1/contacts/\(UUID())/export", headers: headers(key: admin)).status == .notFound)
            for list in ["exports", "policy-acceptances", "corrections"] {
                let unknown = try await client.send(.get, "/v1/leads/\(UUID())/\(list)", headers: headers(key: admin))
                #expect(unknown.status == .notFound, "\(list) of nobody")
            }
        }
    }

    /// The export is recorded once its last byte is out, which may be just after the client read it.
    static func eventually(_ read: () async throws -> [String: Any]) async throws -> [String: Any] {
        for _ in 0..<50 {
            let page = try await read()
            if (page["data"] as? [Any])?.isEmpty == false { return page }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await read()
    }

    @Test func settingsLeaveSectionsOutAndTheHeaderNamesThem() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            let lead = try #require(try await client.create("/v1/leads", key: admin, #"{"name": "Sam Sections"}"#)["id"] as? String)
            _ = try await client.create("/v1/leads/\(lead)/notes", key: admin, #"{"text": "a note on Sam"}"#)
            let settings = try await client.send(.get, "/v1/settings/exports", headers: headers(key: admin))
            let sections = try #require(try settings.json()["sections"] as? [String])
            #expect(sections.starts(with: PersonExports.namedSections) && sections.contains("exports"), "\(sections)")
            let staff = try await fixture.key(role: .staff)
            let refused = try await client.send(
                .patch, "/v1/settings/exports", headers: headers(key: staff, json: true), body: #"{"staff_left_out": ["notes"]}"#)
            #expect(refused.status == .forbidden)
            let unknown = try await client.send(
                .patch, "/v1/settings/exports", headers: headers(key: admin, json: true), body: #"{"person_left_out": ["diaries"]}"#)
            #expect(unknown.status == .unprocessableContent)
            #expect(unknown.text.contains("person_left_out"))
            let changed = try await client.send(
                .patch, "/v1/settings/exports", headers: headers(key: admin, json: true),
                body: #"{"staff_left_out": ["notes", "consents"], "attachment_days": 7}"#)
            #expect(changed.status == .ok, "\(changed.text)")
            #expect(try changed.json()["attachment_days"] as? Int == 7)

            let (text, document) = try await Self.export("/v1/leads/\(lead)/export", key: admin, client)
            #expect(document["left_out"] as? [String] == ["notes", "consents"])
            #expect(document["notes"] == nil && document["consents"] == nil && !text.contains("a note on Sam"))
            #expect((document["sections"] as? [String])?.contains("notes") == false)
            #expect(document["profile"] != nil)
        }
    }

    @Test func aPersonExportsOnlyThemselvesThroughTheirLink() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            var tokens: [String: String] = [:]
            for name in ["Lena", "Olaf"] {
                let lead = try #require(
                    try await client.create(
                        "/v1/leads", key: admin, #"{"name": "\#(name) Link", "email": "\#(name.lowercased())@link.example"}"#)[
                            "id"] as? String)
                _ = try await client.create("/v1/leads/\(lead)/notes", key: admin, #"{"text": "note about \#(name)"}"#)
                let link = try await client.send(.post, "/v1/leads/\(lead)/consent-link", headers: headers(key: admin)).json()
                tokens[lead] = String(try #require((link["url"] as? String)?.split(separator: "/").last))
            }
            _ = try await client.send(
                .patch, "/v1/settings/exports", headers: headers(key: admin, json: true), body: #"{"person_left_out": ["notes"]}"#)
            for (lead, token) in tokens {
                let (text, document) = try await Self.export("/v1/public/people/\(token)/export", key: nil, client)
                let subject = try #require(document["subject"] as? [String: Any])
                #expect(subject["id"] as? String == lead && document["audience"] as? String == "person")
                let other = try #require(tokens.keys.first { $0 != lead })
                #expect(!text.contains(other))
                let mine = text.contains("lena@link.example") ? "Lena" : "Olaf"
                #expect(!text.contains(mine == "Lena" ? "Olaf" : "Lena"))
                #expect(document["left_out"] as? [String] == ["notes"] && !text.contains("note about"))
                let records = try await Self.eventually {
                    try await client.send(.get, "/v1/leads/\(lead)/exports", headers: headers(key: admin)).json()
                }
                let record = (records["data"] as? [[String: Any]])?.first
                #expect(record?["audience"] as? String == "person" && record?["exported_by"] is NSNull)
            }
            let unknown = try await client.send(.get, "/v1/public/people/\(String(repeating: "A", count: 43))/export")
            #expect(unknown.status == .notFound)
        }
    }

    @Test func aColumnAndATableAddedLaterAppearInExports() async throws {
        try await StaffFixture.withApp { fixture, client in
            try await fixture.database.applyMigration(version: 9002, name: "later_exported_data", sql: ErasureMapTests.laterMigration)
            let admin = fixture.adminKey
            let customer = try #require(try await client.create("/v1/customers", key: admin, #"{"company": "Later Ltd"}"#)["id"] as? String)
            let contact = try #require(
                try await client.create(
                    "/v1/contacts", key: admin,
                    #"{"customer_id": "\#(customer)", "first_name": "Kai", "last_name": "Later", "email": "kai@later.example"}"#)[
                        "id"] as? String)
            try await fixture.database.withPool(role: .owner) { owner in
                try await owner.execute("UPDATE contacts SET nickname = 'kai-nickname' WHERE id = $1::uuid", [contact])
                try await owner.execute("INSERT INTO contact_aliases (contact_id, alias) VALUES ($1::uuid, 'kai-alias')", [contact])
                try await owner.execute("UPDATE customers SET invoice_email = 'later@invoice.example' WHERE id = $1::uuid", [customer])
            }
            let (_, document) = try await Self.export("/v1/contacts/\(contact)/export", key: admin, client)
            #expect((document["profile"] as? [String: Any])?["nickname"] as? String == "kai-nickname")
            #expect((document["contact_aliases"] as? [[String: Any]])?.first?["alias"] as? String == "kai-alias")
            #expect((document["customer"] as? [String: Any])?["invoice_email"] as? String == "later@invoice.example")
            #expect((document["sections"] as? [String])?.contains("contact_aliases") == true)
        }
    }

    @Test func completingAnAccessCaseAttachesThePersonsExportUntilItExpires() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            let lead = try #require(try await client.create("/v1/leads", key: admin, #"{"name": "Ada Access"}"#)["id"] as? String)
            _ = try await client.create("/v1/leads/\(lead)/notes", key: admin, #"{"text": "attached note"}"#)
            var cases: [String: String] = [:]
            for kind in ["access", "restriction"] {
                let id = try #require(
                    try await client.create(
                        "/v1/requests", key: admin,
                        #"{"kind": "\#(kind)", "subject_type": "lead", "subject_id": "\#(lead)", "channel": "email"}"#
                    )["id"] as? String)
                #expect(try await client.send(.get, "/v1/requests/\(id)/export", headers: headers(key: admin)).status == .notFound)
                // A restriction case names the ground of the restriction its completion sets.
                let ground = kind == "restriction" ? #", "restriction_ground": "legal_claims""# : ""
                let unverified = try await client.send(
                    .patch, "/v1/requests/\(id)", headers: headers(key: admin, json: true),
                    body: #"{"status": "completed", "resolution": "Answered."\#(ground)}"#)
                // The person's data goes only to someone known to be them.
                #expect(unverified.status == (kind == "access" ? .unprocessableContent : .ok), "\(unverified.text)")
                if kind == "access" {
                    #expect(unverified.text.contains("verification_method"))
                    let completed = try await client.send(
                        .patch, "/v1/requests/\(id)", headers: headers(key: admin, json: true),
                        body: #"{"status": "completed", "resolution": "Answered.", "verification_method": "id_document"}"#)
                    #expect(completed.status == .ok, "\(completed.text)")
                }
                cases[kind] = id
            }
            let access = try #require(cases["access"])
            let (text, document) = try await Self.export("/v1/requests/\(access)/export", key: admin, client)
            #expect(document["audience"] as? String == "person" && text.contains("attached note"))
            let requests = try #require(document["requests"] as? [[String: Any]])
            #expect(requests.contains { $0["id"] as? String == access })
            #expect(
                try await client.send(.get, "/v1/requests/\(cases["restriction"] ?? "")/export", headers: headers(key: admin)).status
                    == .notFound)
            let records = try await client.send(.get, "/v1/leads/\(lead)/exports", headers: headers(key: admin)).json()
            let record = try #require((records["data"] as? [[String: Any]])?.first)
            #expect(record["request_id"] as? String == access && record["byte_size"] as? Int == text.utf8.count)
            let completedEvents: Int = try await fixture.pool.query(
                "SELECT count(*)::int AS n FROM webhook_events WHERE type = 'request.completed'"
            ).single().decode("n")
            #expect(completedEvents == 2)

            // Kept for the settings' days, then gone.
            let kept: Bool = try await fixture.pool.query(
                "SELECT expires_at BETWEEN now() + interval '29 days' AND now() + interval '31 days' AS kept FROM request_attachments"
            ).single().decode("kept")
            #expect(kept)
            try await fixture.database.withPool(role: .owner) { owner in
                try await owner.execute("UPDATE request_attachments SET expires_at = now() - interval '1 second'")
            }
            #expect(try await client.send(.get, "/v1/requests/\(access)/export", headers: headers(key: admin)).status == .notFound)
            #expect(try await PersonExports(database: fixture.pool).removeExpiredAttachments() == 1)
        }
    }

    @Test func theServedSchemaIsTheContractsExportDocument() async throws {
        try await StaffFixture.withApp { _, client in
            let response = try await client.send(.get, "/v1/public/schemas/export")
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/schema+json")
            guard case .object(var served) = try JSONDecoder().decode(JSONValue.self, from: Data(response.body.readableBytesView)) else {
                Issue.record("not an object")
                return
            }
            #expect(served.removeValue(forKey: "$schema") == .string("https://json-schema.org/draft/2020-12/schema"))
            #expect(served.removeValue(forKey: "$id") != nil)
            served.removeValue(forKey: "title")
            let documented = OpenAPIContract.shared.document["components"]?["schemas"]?["ExportDocument"]
            #expect(JSONValue.object(served) == documented)
        }
    }
}
