import Foundation
import HTTPTypes
import JSONText
import Postgres
import TestSupport
import Testing

/// Consent decisions and corrections reach other systems as they happen (GDPR Art. 7(3), 19):
/// a mail tool subscribed to the events never has to poll.
@Suite("Consent changes and corrections are announced to webhooks")
struct ConsentEventTests {
    /// The payloads of `type` about `subject`, oldest first, and how many deliveries each has.
    static func events(_ fixture: StaffFixture, _ type: String, about subject: String) async throws -> [(JSONValue, Int)] {
        try await fixture.pool.query(
            """
            SELECT e.payload::text AS payload, (SELECT count(*)::int FROM webhook_deliveries d WHERE d.event_id = e.id) AS deliveries
            FROM webhook_events e WHERE e.type = $1 AND e.subject_id = $2::uuid ORDER BY e.created_at, e.id
            """, [type, subject]
        ).map { row in
            (
                try JSONDecoder().decode(JSONValue.self, from: Data(try row.decode("payload", as: String.self).utf8)),
                try row.decode("deliveries")
            )
        }
    }

    @Test func everyDecisionAndEveryCorrectionIsAnEventWithIdsOnly() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            _ = try await client.create(
                "/v1/webhooks", key: admin,
                #"{"url": "https://hooks.example.org/mail-tool", "events": ["consent.given", "consent.withdrawn", "subject.rectified"]}"#)
            let marker = SeededPerson.marker()
            let lead = try #require(
                try await client.create("/v1/leads", key: admin, #"{"name": "Vera \#(marker)", "email": "vera\#(marker)@example.org"}"#)[
                    "id"]
                    as? String)
            let purpose = try await client.createPurpose(key: admin, name: "News")

            // Given by staff, withdrawn by the person through their link: one event each, delivered.
            _ = try await client.create("/v1/leads/\(lead)/consents", key: admin, #"{"purpose_id": "\#(purpose)", "action": "give"}"#)
            let link = try await client.send(.post, "/v1/leads/\(lead)/consent-link", headers: headers(key: admin))
            let token = try #require((try link.json()["url"] as? String)?.split(separator: "/").last.map(String.init))
            let withdrawn = try await client.send(
                .post, "/v1/public/consent/\(token)", headers: headers(key: nil, json: true),
                body: #"{"decisions": [{"purpose_id": "\#(purpose)", "action": "withdraw"}]}"#)
            #expect(withdrawn.status == .ok)
            let given = try await Self.events(fixture, "consent.given", about: lead)
            let gone = try await Self.events(fixture, "consent.withdrawn", about: lead)
            #expect(given.count == 1 && gone.count == 1 && given[0].1 == 1 && gone[0].1 == 1)
            #expect(given.first?.0["channel"]?.string == "staff" && gone.first?.0["channel"]?.string == "consent_link")
            #expect(gone.first?.0["purpose_id"]?.string == purpose && gone.first?.0["seq"] == .integer(2))

            // Corrected by staff, then by the person: each names its fields and who, never a value.
            _ = try await client.send(
                .patch, "/v1/settings/privacy", headers: headers(key: admin, json: true), body: #"{"lead_correctable": ["phone"]}"#)
            #expect(
                try await client.send(
                    .patch, "/v1/leads/\(lead)", headers: headers(key: admin, json: true),
                    body: #"{"name": "Vera Q \#(marker)", "company": "Quill"}"#
                ).status == .ok)
            #expect(
                try await client.send(
                    .patch, "/v1/public/people/\(token)", headers: headers(key: nil, json: true),
                    body: #"{"phone": "+49 30 99 \#(marker)"}"#
                ).status == .ok)
            let rectified = try await Self.events(fixture, "subject.rectified", about: lead)
            #expect(rectified.map { $0.0["corrected_by"]?.string } == ["staff", "person"])
            #expect(rectified.first?.0["fields"] == .array([.string("company"), .string("name")]))
            #expect(rectified.last?.0["fields"] == .array([.string("phone")]))
            #expect(rectified.allSatisfy { $0.1 == 1 })
            let payloads = rectified.map { "\($0.0)" }.joined()
            #expect(!payloads.contains(marker) && !payloads.contains("Quill"), "no value of the person in an event")
        }
    }
}
