import CustodianCore
import Foundation
import HTTPTypes
import JSONText
import TestSupport
import Testing

/// The register of processing (GDPR Art. 30) is derived from the data: an activity's categories of
/// data come from the personal-data map, its recipients from the webhook endpoints and
/// integration keys, its retention from the policies; people see the controller, its officer,
/// the authority and the recipients in their privacy centre (Art. 13, 77).
@Suite("The register of processing: derived from the map, the endpoints and the policies, always current")
struct RegisterTests {
    @Test func theRegisterListsAPurposeItsCategoriesFromTheMapAndAWebhookAsARecipient() async throws {
        try await StaffFixture.withApp(settings: WebhookTests.settings) { fixture, client in
            let admin = fixture.adminKey
            let controller = try await client.send(
                .patch, "/v1/settings/controller", headers: headers(key: admin, json: true),
                body: #"""
                    {"address": "Musterstraße 1, 10115 Berlin", "email": "privacy@example.com", "dpo_name": "Dana Data",
                     "dpo_email": "dpo@example.com", "supervisory_authority_name": "Berlin DPA",
                     "supervisory_authority_url": "https://www.datenschutz-berlin.de"}
                    """#)
            #expect(controller.status == .ok, "\(controller.text)")
            _ = try await client.create(
                "/v1/webhooks", key: admin, #"{"url": "https://mailer.example.org/hook", "events": ["consent.given"]}"#)
            _ = try await fixture.key(role: .integration, name: "Warehouse sync")
            let purpose = try await client.createPurpose(key: admin, name: "Newsletter")
            _ = try await client.create(
                "/v1/retention-policies", key: admin,
                #"{"name": "Leads", "subject_type": "lead", "inactive_months": 24, "active": true}"#)
            let activity = try await client.create(
                "/v1/processing-activities", key: admin,
                #"""
                {"name": "Newsletter", "purpose": "Our monthly newsletter.", "consent_purpose_id": "\#(purpose)",
                 "subject_types": ["lead", "contact"], "tables": ["leads", "contacts", "consent_records"],
                 "other_recipients": ["Mail delivery service"], "third_country_transfers": [{"country": "US", "safeguard": "SCCs"}]}
                """#)
            #expect(activity["lawful_basis"] is NSNull, "the consent purpose gives the basis")

            let register = try await client.send(.get, "/v1/register", headers: headers(key: fixture.key(role: .readonly))).json()
            let entries = try #require(register["activities"] as? [[String: Any]])
            let entry = try #require(entries.first)
            #expect(entries.count == 1 && entry["lawful_basis"] as? String == "consent")
            #expect((entry["consent_purpose"] as? [String: Any])?["id"] as? String == purpose)
            let categories = (entry["categories_of_data"] as? [[String: Any]] ?? []).reduce(into: [String: [String]]()) {
                $0[$1["category"] as? String ?? ""] = $1["columns"] as? [String]
            }
            #expect(
                categories["contact_data"]?.contains("leads.email") == true
                    && categories["contact_data"]?.contains("contacts.email") == true)
            #expect(categories["name"]?.contains("contacts.first_name") == true)
            #expect(categories.values.allSatisfy { $0.allSatisfy { !$0.hasPrefix("lead_notes.") } }, "only the tables it names")
            let recipients = (entry["recipients"] as? [[String: Any]] ?? []).map { "\($0["kind"] ?? ""):\($0["name"] ?? "")" }
            #expect(
                Set(recipients) == ["webhook_endpoint:mailer.example.org", "integration:Warehouse sync", "other:Mail delivery service"])
            #expect((entry["retention"] as? [String])?.first == "Enquiries (leads) are erased once there has been no activity for 2 years.")
            #expect((register["controller"] as? [String: Any])?["name"] as? String == "Custodian")

            let csv = try await client.send(.get, "/v1/register.csv", headers: headers(key: admin))
            let lines = csv.text.split(separator: "\r\n")
            #expect(
                csv.status == .ok && lines.count == 2
                    && lines[1].hasPrefix("Newsletter,Our monthly newsletter.,consent,Newsletter,lead; contact,"))
            #expect(lines[1].contains("\"Dana Data, dpo@example.com\""))

            // The purpose an activity is cannot be deleted from under it.
            let deleted = try await client.send(.delete, "/v1/consent-purposes/\(purpose)", headers: headers(key: admin))
            #expect(deleted.status == .conflict && deleted.text.contains("register"), "\(deleted.text)")

            // A basis is needed unless a consent purpose gives it; tables must hold people's rows.
            let noBasis = try await client.send(
                .post, "/v1/processing-activities", headers: headers(key: admin, json: true),
                body: #"{"name": "x", "purpose": "y", "subject_types": ["lead"]}"#)
            #expect(noBasis.status == .unprocessableContent && noBasis.text.contains("lawful_basis"))
            let badTable = try await client.send(
                .post, "/v1/processing-activities", headers: headers(key: admin, json: true),
                body: #"{"name": "x", "purpose": "y", "lawful_basis": "contract", "subject_types": ["lead"], "tables": ["staff"]}"#)
            #expect(badTable.status == .unprocessableContent && badTable.text.contains("tables"))

            // The person is told who is responsible, whom to complain to, and who receives their data.
            let lead = try #require(
                try await client.create("/v1/leads", key: admin, #"{"name": "Rita Reader", "email": "rita@register.example"}"#)["id"]
                    as? String)
            let token = try await PrivacyCentreTests.token(client, key: admin, lead: lead)
            let centre = try await client.send(.get, "/v1/public/people/\(token)").json()
            let told = try #require(centre["controller"] as? [String: Any])
            #expect((told["dpo"] as? [String: Any])?["email"] as? String == "dpo@example.com")
            #expect((told["supervisory_authority"] as? [String: Any])?["name"] as? String == "Berlin DPA")
            #expect((centre["recipients"] as? [[String: Any]])?.count == 2)
            #expect((centre["rights"] as? [[String: Any]])?.contains { $0["right"] as? String == "complaint" } == true)
            #expect((centre["retention"] as? String)?.hasPrefix("Enquiries (leads) are erased") == true)
            let page = try await client.send(.get, "/p/\(token)?lang=de")
            #expect(page.text.contains("Dana Data") && page.text.contains(#"href="https://www.datenschutz-berlin.de""#))
            #expect(page.text.contains("Anfragen (Leads) werden gelöscht, wenn seit 2 Jahren keine Aktivität stattfand."))
            #expect(page.text.contains("mailer.example.org (angebundenes System)"))
        }
    }
}
