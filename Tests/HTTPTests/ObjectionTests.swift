import CustodianCore
import Foundation
import HTTPTypes
import HummingbirdTesting
import JSONText
import Postgres
import TestSupport
import Testing

/// Objection (GDPR Art. 21): to a purpose based on legitimate interests, in the hash chain, by the
/// person or by staff on their behalf; to direct marketing it is absolute and only the person ends
/// it, by giving consent again themselves.
@Suite("Objection: per purpose, absolute for direct marketing, ended only by the person")
struct ObjectionTests {
    static func link(_ client: ContractClient, key: String, _ path: String) async throws -> String {
        let issued = try await client.send(.post, path + "/consent-link", headers: headers(key: key))
        #expect(issued.status == .created, "\(issued.text)")
        return String(try #require((try issued.json()["url"] as? String)?.split(separator: "/").last))
    }

    static func decide(_ client: ContractClient, token: String, _ decisions: [(String, String)]) async throws -> TestResponse {
        let body = decisions.map { #"{"purpose_id": "\#($0.0)", "action": "\#($0.1)"}"# }.joined(separator: ", ")
        return try await client.send(
            .post, "/v1/public/consent/\(token)", headers: headers(key: nil, json: true), body: #"{"decisions": [\#(body)]}"#)
    }

    static func consenters(_ client: ContractClient, key: String, _ purpose: String) async throws -> [String] {
        let page = try await client.send(.get, "/v1/consent-purposes/\(purpose)/consenters", headers: headers(key: key)).json()
        return (page["data"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
    }

    /// The state per purpose the person's export holds (validated against the export's schema).
    static func exportedStates(_ client: ContractClient, key: String, _ path: String) async throws -> [String: String] {
        let (_, document) = try await ExportTests.export(path + "/export", key: key, client)
        let states = (document["consents"] as? [String: Any])?["state"] as? [[String: Any]] ?? []
        return states.reduce(into: [:]) { $0[$1["purpose_id"] as? String ?? ""] = $1["state"] as? String }
    }

    static func events(_ pool: PostgresPool, about person: String) async throws -> [String] {
        try await pool.query("SELECT type FROM webhook_events WHERE subject_id = $1::uuid ORDER BY created_at, id", [person]).map {
            try $0.decode("type")
        }
    }

    @Test func anObjectionToALegitimateInterestStopsThatPurposeAndOnlyThePersonEndsIt() async throws {
        try await StaffFixture.withApp { fixture, client in
            let key = fixture.adminKey
            let analytics = try await client.createPurpose(key: key, name: "Analytics", lawfulBasis: "legitimate_interests")
            let news = try await client.createPurpose(key: key, name: "News")
            let marker = SeededPerson.marker()
            let lead = try #require(
                try await client.create("/v1/leads", key: key, #"{"name": "Oda \#(marker)", "email": "oda\#(marker)@example.org"}"#)["id"]
                    as? String)
            for purpose in [analytics, news] {
                _ = try await client.create("/v1/leads/\(lead)/consents", key: key, #"{"purpose_id": "\#(purpose)", "action": "give"}"#)
            }
            #expect(try await Self.consenters(client, key: key, analytics).contains(lead))

            // A purpose based on consent is withdrawn from, not objected to: 422 naming the field.
            let token = try await Self.link(client, key: key, "/v1/leads/\(lead)")
            let wrong = try await Self.decide(client, token: token, [(news, "object")])
            #expect(wrong.status == .unprocessableContent && wrong.text.contains("decisions[0].purpose_id") == false, "\(wrong.text)")
            #expect(wrong.text.contains("purpose_id") && wrong.text.contains("withdraw consent instead"))

            // The privacy centre page offers an objection where Art. 21 allows one: here, analytics only.
            let page = try await client.send(.get, "/p/\(token)?lang=en", headers: headers(key: nil))
            #expect(page.text.components(separatedBy: #"name="action" value="object""#).count == 2, "one object button")
            #expect(page.text.contains("Object"))

            let objected = try await Self.decide(client, token: token, [(analytics, "object")])
            #expect(objected.status == .ok, "\(objected.text)")
            let states = try await UnsubscribeTests.states(client, key: key, "/v1/leads/\(lead)")
            #expect(states == [analytics: "objected", news: "given"])
            #expect(try await Self.exportedStates(client, key: key, "/v1/leads/\(lead)") == states)
            #expect(
                !(try await Self.consenters(client, key: key, analytics)).contains(lead), "an objected purpose lists the person nowhere")
            #expect(try await Self.events(fixture.pool, about: lead).suffix(1) == ["consent.objected"])
            let verified = try await client.send(.get, "/v1/leads/\(lead)/consents/verify", headers: headers(key: key)).json()
            #expect(verified["intact"] as? Bool == true, "the objection is in the hash chain")

            // Staff cannot give it back, through the API or in SQL as the API's role.
            let refused = try await client.send(
                .post, "/v1/leads/\(lead)/consents", headers: headers(key: key, json: true),
                body: #"{"purpose_id": "\#(analytics)", "action": "give"}"#)
            #expect(refused.status == .conflict && refused.text.contains("objected"), "\(refused.text)")
            await #expect(throws: PostgresError.self) {
                try await fixture.pool.execute(
                    """
                    INSERT INTO consent_records (lead_id, purpose_id, purpose_version, action, channel)
                    VALUES ($1::uuid, $2::uuid, 1, 'give', 'api')
                    """, [lead, analytics])
            }
            await #expect(throws: PostgresError.self, "an objection is only to legitimate interests or direct marketing") {
                try await fixture.pool.execute(
                    """
                    INSERT INTO consent_records (lead_id, purpose_id, purpose_version, action, channel)
                    VALUES ($1::uuid, $2::uuid, 1, 'object', 'api')
                    """, [lead, news])
            }
            #expect(try await UnsubscribeTests.states(client, key: key, "/v1/leads/\(lead)")[analytics] == "objected")

            // The person may change their mind themselves.
            #expect(try await Self.decide(client, token: token, [(analytics, "give")]).status == .ok)
            #expect(try await Self.consenters(client, key: key, analytics).contains(lead))
        }
    }

    @Test func anObjectionToDirectMarketingStopsEveryMarketingPurposeUntilThePersonGivesAgain() async throws {
        try await StaffFixture.withApp { fixture, client in
            let key = fixture.adminKey
            let newsletter = try await client.createPurpose(key: key, name: "Newsletter", directMarketing: true)
            let offers = try await client.createPurpose(
                key: key, name: "Offers", lawfulBasis: "legitimate_interests", directMarketing: true)
            let service = try await client.createPurpose(key: key, name: "Service mails")
            let marker = SeededPerson.marker()
            let customer = try #require(
                try await client.create("/v1/customers", key: key, #"{"company": "Firm \#(marker)"}"#)["id"] as? String)
            let contact = try #require(
                try await client.create(
                    "/v1/contacts", key: key,
                    #"{"customer_id": "\#(customer)", "first_name": "Pia", "last_name": "\#(marker)", "email": "pia\#(marker)@example.org"}"#
                )["id"] as? String)
            for purpose in [newsletter, offers, service] {
                _ = try await client.create(
                    "/v1/contacts/\(contact)/consents", key: key, #"{"purpose_id": "\#(purpose)", "action": "give"}"#)
            }

            // Staff record the person's objection to the newsletter, as they said it on the phone.
            let objection = try await client.send(
                .post, "/v1/contacts/\(contact)/consents", headers: headers(key: key, json: true),
                body: #"{"purpose_id": "\#(newsletter)", "action": "object", "note": "Said on the phone: no more marketing."}"#)
            #expect(objection.status == .created, "\(objection.text)")
            let states = try await UnsubscribeTests.states(client, key: key, "/v1/contacts/\(contact)")
            #expect(states == [newsletter: "objected", offers: "objected", service: "given"])
            for purpose in [newsletter, offers] {
                #expect(!(try await Self.consenters(client, key: key, purpose)).contains(contact))
            }
            #expect(try await Self.consenters(client, key: key, service).contains(contact), "not marketing: untouched")
            #expect(try await Self.events(fixture.pool, about: contact).suffix(2) == ["consent.objected", "consent.objected"])

            // The privacy centre shows it, with no object button left for those purposes.
            let token = try await Self.link(client, key: key, "/v1/contacts/\(contact)")
            let centre = try await client.send(.get, "/v1/public/people/\(token)", headers: headers(key: nil)).json()
            let shown = (centre["purposes"] as? [[String: Any]] ?? []).reduce(into: [String: String]()) {
                $0[$1["purpose_id"] as? String ?? ""] = $1["consent"] as? String
            }
            #expect(shown == [newsletter: "objected", offers: "objected", service: "given"])

            for purpose in [newsletter, offers] {
                let refused = try await client.send(
                    .post, "/v1/contacts/\(contact)/consents", headers: headers(key: key, json: true),
                    body: #"{"purpose_id": "\#(purpose)", "action": "give"}"#)
                #expect(refused.status == .conflict, "\(refused.text)")
            }
            // Giving one again, themselves, ends the objection for that purpose only.
            #expect(try await Self.decide(client, token: token, [(offers, "give")]).status == .ok)
            #expect(try await Self.consenters(client, key: key, offers).contains(contact))
            #expect(!(try await Self.consenters(client, key: key, newsletter)).contains(contact))
        }
    }
}
