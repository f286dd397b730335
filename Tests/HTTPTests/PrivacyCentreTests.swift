import CustodianCore
import CustodianHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

@Suite("The privacy centre: what a person sees and corrects through their link, every correction recorded")
struct PrivacyCentreTests {
    static func token(_ client: ContractClient, key: String, lead: String) async throws -> String {
        let link = try await client.send(.post, "/v1/leads/\(lead)/consent-link", headers: headers(key: key)).json()
        return String(try #require((link["url"] as? String)?.split(separator: "/").last))
    }

    @Test func thePersonSeesWhatIsHeldWhyAndForHowLongAndCorrectsWhatSettingsAllow() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            _ = try await client.create(
                "/v1/custom-fields", key: admin, #"{"entity": "lead", "key": "hobby", "label": "Hobby", "type": "text"}"#)
            _ = try await client.create(
                "/v1/custom-fields", key: admin,
                #"{"entity": "lead", "key": "rating", "label": "Internal rating", "type": "text", "visible_to_subject": false}"#)
            let purpose = try await client.createPurpose(key: admin)
            _ = try await PolicyTests.publish(
                client, key: admin, "privacy", #"{"texts": [{"language": "en", "title": "Privacy", "body": "v1"}]}"#)
            let lead = try #require(
                try await client.create(
                    "/v1/leads", key: admin,
                    #"{"name": "Vera Visible", "email": "vera@centre.example", "phone": "+49 30 1", "source": "web form", "description": "internal: slow payer", "custom_fields": {"hobby": "chess", "rating": "C"}}"#
                )["id"] as? String)
            _ = try await client.create("/v1/leads/\(lead)/consents", key: admin, #"{"purpose_id": "\#(purpose)", "action": "give"}"#)
            let token = try await Self.token(client, key: admin, lead: lead)
            let other = try #require(
                try await client.create("/v1/leads", key: admin, #"{"name": "Otto Other", "email": "otto@centre.example"}"#)["id"]
                    as? String)
            let otherToken = try await Self.token(client, key: admin, lead: other)

            let centre = try await client.send(.get, "/v1/public/people/\(token)")
            #expect(centre.status == .ok, "\(centre.text)")
            let view = try centre.json()
            let data = try #require(view["data"] as? [String: Any])
            #expect(data["name"] as? String == "Vera Visible" && data["email"] as? String == "vera@centre.example")
            #expect(
                data["description"] == nil && !centre.text.contains("slow payer"), "staff's notes are not shown here (the export has them)")
            let fields = try #require(view["custom_fields"] as? [[String: Any]])
            #expect(fields.map { $0["key"] as? String } == ["hobby"] && !centre.text.contains("Internal rating"))
            #expect((view["purposes"] as? [[String: Any]])?.first?["consent"] as? String == "given")
            #expect(view["source"] as? String == "web form")
            #expect((view["categories"] as? [String])?.contains("contact_data") == true)
            #expect((view["rights"] as? [[String: Any]])?.count == 8)
            #expect((view["policies"] as? [[String: Any]])?.first?["accepted"] as? Bool == false)
            #expect(!centre.text.contains("Otto"), "nothing of another person")
            #expect(
                try await client.send(.get, "/v1/public/people/\(otherToken)").json()["subject"].map { "\($0)" }?.contains(other) == true)
            #expect(try await client.send(.get, "/v1/public/people/\(String(repeating: "x", count: 43))").status == .notFound)

            // Corrections: allowed fields only, validated as staff writes are.
            let corrected = try await client.send(
                .patch, "/v1/public/people/\(token)", headers: headers(key: nil, json: true), body: #"{"phone": "+49 30 2"}"#)
            #expect(corrected.status == .ok, "\(corrected.text)")
            #expect((try corrected.json()["data"] as? [String: Any])?["phone"] as? String == "+49 30 2")
            for (body, field) in [
                (#"{"description": "all good"}"#, "description"), (#"{"status": "won"}"#, "status"),
                (#"{"email": "not an email"}"#, "email"), (#"{"name": ""}"#, "name"),
            ] {
                let refused = try await client.send(
                    .patch, "/v1/public/people/\(token)", headers: headers(key: nil, json: true), body: body)
                #expect(refused.status == .unprocessableContent && refused.text.contains(field), "\(body)")
            }
            let staff = try await fixture.key(role: .staff)
            _ = try await client.send(
                .patch, "/v1/leads/\(lead)", headers: headers(key: staff, json: true),
                body: #"{"name": "Vera V.", "custom_fields": {"hobby": "go"}}"#)
            let corrections = try await client.send(.get, "/v1/leads/\(lead)/corrections", headers: headers(key: admin)).json()
            let rows = try #require(corrections["data"] as? [[String: Any]])
            let summary = rows.map {
                "\($0["corrected_by"] ?? ""):\($0["field"] ?? ""):\($0["old_value"] ?? "nil")>\($0["new_value"] ?? "nil")"
            }
            #expect(
                Set(summary) == [
                    "person:phone:+49 30 1>+49 30 2", "staff:name:Vera Visible>Vera V.", "staff:custom_fields.hobby:chess>go",
                ],
                "\(summary)")
            #expect(rows.first { $0["corrected_by"] as? String == "person" }?["staff_id"] is NSNull)
            #expect(rows.first { $0["corrected_by"] as? String == "staff" }?["staff_id"] as? String != nil)
            let (_, document) = try await ExportTests.export("/v1/leads/\(lead)/export", key: admin, client)
            #expect((document["corrections"] as? [Any])?.count == 3, "corrections are in the person's export")

            // Settings narrow what the person may correct, to fields they see.
            let settings = try await client.send(.get, "/v1/settings/privacy", headers: headers(key: admin))
            let narrowed = try await client.send(
                .patch, "/v1/settings/privacy", headers: headers(key: admin, json: true, ifMatch: settings.headers[.eTag]),
                body: #"{"lead_correctable": ["name"], "retention": "Two years after our last contact."}"#)
            #expect(narrowed.status == .ok, "\(narrowed.text)")
            let invisible = try await client.send(
                .patch, "/v1/settings/privacy", headers: headers(key: admin, json: true), body: #"{"lead_correctable": ["description"]}"#)
            #expect(invisible.status == .unprocessableContent)
            let cleared = try await client.send(
                .patch, "/v1/settings/privacy", headers: headers(key: admin, json: true), body: #"{"retention": null}"#)
            #expect(cleared.status == .unprocessableContent && cleared.text.contains("retention"), "the retention text cannot be cleared")
            let phone = try await client.send(
                .patch, "/v1/public/people/\(token)", headers: headers(key: nil, json: true), body: #"{"phone": "1"}"#)
            #expect(phone.status == .unprocessableContent)
            #expect(
                try await client.send(.get, "/v1/public/people/\(token)").json()["retention"] as? String
                    == "Two years after our last contact.")
        }
    }

    @Test func theLinksConsentsLiveUnderTheCentresRootAndRecordTheLink() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            let purpose = try await client.createPurpose(key: admin)
            let lead = try #require(try await client.create("/v1/leads", key: admin, #"{"name": "Cora Consent"}"#)["id"] as? String)
            let token = try await Self.token(client, key: admin, lead: lead)
            let before = try await client.send(.get, "/v1/public/people/\(token)/consents").json()
            #expect((before["purposes"] as? [[String: Any]])?.first?["state"] as? String == "not_asked")
            let given = try await client.send(
                .post, "/v1/public/people/\(token)/consents", headers: headers(key: nil, json: true),
                body: #"{"decisions": [{"purpose_id": "\#(purpose)", "action": "give"}]}"#)
            #expect(given.status == .ok, "\(given.text)")
            #expect((try given.json()["purposes"] as? [[String: Any]])?.first?["state"] as? String == "given")
            let history = try await client.send(.get, "/v1/leads/\(lead)/consents", headers: headers(key: admin)).json()["history"]
            let record = try #require((history as? [[String: Any]])?.last)
            #expect(record["channel"] as? String == "consent_link" && record["link_id"] is String)
        }
    }

    @Test func aRecordDeletedAsAMistakeTakesItsCorrectionsAndExportLogAlongAndNothingElseRemovesThem() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            let lead = try #require(try await client.create("/v1/leads", key: admin, #"{"name": "Typo Tim"}"#)["id"] as? String)
            _ = try await client.send(.patch, "/v1/leads/\(lead)", headers: headers(key: admin, json: true), body: #"{"name": "Tim Typo"}"#)
            await #expect(throws: PostgresError.self) { try await fixture.pool.execute("DELETE FROM corrections") }
            await #expect(throws: PostgresError.self) { try await fixture.pool.execute("UPDATE corrections SET new_value = 'x'") }
            _ = try await ExportTests.export("/v1/leads/\(lead)/export", key: admin, client)
            _ = try await ExportTests.eventually {
                try await client.send(.get, "/v1/leads/\(lead)/exports", headers: headers(key: admin)).json()
            }
            #expect(try await client.send(.delete, "/v1/leads/\(lead)", headers: headers(key: admin)).status == .noContent)
            let left = try await fixture.pool.query(
                "SELECT (SELECT count(*) FROM corrections)::int AS corrections, (SELECT count(*) FROM exports)::int AS exports"
            ).single()
            #expect(try left.decode("corrections", as: Int.self) == 0 && left.decode("exports", as: Int.self) == 0)
        }
    }
}
