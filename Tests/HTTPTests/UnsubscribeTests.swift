import CustodianCore
import CustodianHTTP
import Foundation
import HTTPTypes
import JSONText
import Postgres
import TestSupport
import Testing

/// Withdrawing is as easy as giving (GDPR Art. 7(3)): every person has an unsubscribe token that
/// never expires and can do one thing, withdraw; a mail client uses it with one click (RFC 8058).
@Suite("Unsubscribe: one click, no cookie, withdraws every consent and nothing else")
struct UnsubscribeTests {
    static let settings = ServerSettings(unsubscribeBaseURL: "https://privacy.example.com")

    static func states(_ client: ContractClient, key: String, _ path: String) async throws -> [String: String] {
        let answer = try await client.send(.get, path + "/consents", headers: headers(key: key)).json()
        var states: [String: String] = [:]
        for purpose in answer["purposes"] as? [[String: Any]] ?? [] {
            states[purpose["purpose_id"] as? String ?? ""] = purpose["state"] as? String
        }
        return states
    }

    @Test func aOneClickPostWithdrawsEveryConsentOnceAndTheEventsCarryTheURLs() async throws {
        try await StaffFixture.withApp(settings: Self.settings) { fixture, client in
            let key = fixture.adminKey
            _ = try await client.create(
                "/v1/webhooks", key: key, #"{"url": "https://hooks.example.org/mail", "events": ["consent.given", "consent.withdrawn"]}"#)
            let news = try await client.createPurpose(key: key, name: "News")
            let offers = try await client.createPurpose(key: key, name: "Offers")
            let marker = SeededPerson.marker()
            let lead = try #require(
                try await client.create("/v1/leads", key: key, #"{"name": "Uma \#(marker)", "email": "uma\#(marker)@example.org"}"#)["id"]
                    as? String)
            for purpose in [news, offers] {
                _ = try await client.create("/v1/leads/\(lead)/consents", key: key, #"{"purpose_id": "\#(purpose)", "action": "give"}"#)
            }

            // The events a mailer gets carry the person's unsubscribe page and one-click URL.
            let due = try await WebhookDeliveries(
                database: fixture.pool, secrets: Self.settings.secrets, unsubscribeBaseURL: Self.settings.unsubscribeBaseURL
            ).claim(limit: 50, lease: .seconds(60))
            let given = try #require(due.first { $0.type == "consent.given" })
            let oneClick = try #require(given.data["one_click_unsubscribe_url"]?.string)
            let token = String(try #require(oneClick.split(separator: "/").last))
            #expect(oneClick == "https://privacy.example.com/v1/public/unsubscribe/\(token)")
            #expect(given.data["unsubscribe_url"]?.string == "https://privacy.example.com/u/\(token)")
            #expect(token == UnsubscribeToken.issue(for: .lead(UUID(uuidString: lead)!), with: Self.settings.secrets))
            let stored: String = try await fixture.pool.query("SELECT string_agg(payload::text, ' ') AS p FROM webhook_events").single()
                .decode("p")
            #expect(!stored.contains(token), "the token is made when sent, never stored")

            // What a mail client does (RFC 8058): a POST with List-Unsubscribe=One-Click, no cookie.
            var form = HTTPFields()
            form[.contentType] = "application/x-www-form-urlencoded"
            let first = try await client.send(.post, "/v1/public/unsubscribe/\(token)", headers: form, body: "List-Unsubscribe=One-Click")
            #expect(first.status == .ok, "\(first.text)")
            #expect(Set(try first.json()["withdrawn"] as? [String] ?? []) == [news, offers])
            #expect(try await Self.states(client, key: key, "/v1/leads/\(lead)") == [news: "withdrawn", offers: "withdrawn"])
            let channels: [String] = try await fixture.pool.query(
                "SELECT channel FROM consent_records WHERE lead_id = $1::uuid AND action = 'withdraw'", [lead]
            ).map { try $0.decode("channel") }
            #expect(channels == ["unsubscribe", "unsubscribe"])
            let second = try await client.send(.post, "/v1/public/unsubscribe/\(token)", headers: form, body: "List-Unsubscribe=One-Click")
            let again = try second.json()["withdrawn"] as? [String]
            #expect(second.status == .ok && again == [])

            // A token with another MAC, or of another shape, is nobody's.
            var forged = Array(Data(base64URLEncoded: token)!)
            forged[32] ^= 1
            for bad in [Data(forged).base64URLEncoded, "short", String(token.dropLast())] {
                #expect(try await client.send(.post, "/v1/public/unsubscribe/\(bad)", headers: form).status == .notFound, "\(bad)")
            }
        }
    }

    @Test func aConvertedLeadsTokenReachesItsContactAndARestrictedPersonMayUnsubscribe() async throws {
        try await StaffFixture.withApp(settings: Self.settings) { fixture, client in
            let key = fixture.adminKey
            let news = try await client.createPurpose(key: key, name: "News")
            let marker = SeededPerson.marker()
            let lead = try #require(
                try await client.create("/v1/leads", key: key, #"{"name": "Ivo \#(marker)", "email": "ivo\#(marker)@example.org"}"#)["id"]
                    as? String)
            _ = try await client.create("/v1/leads/\(lead)/consents", key: key, #"{"purpose_id": "\#(news)", "action": "give"}"#)
            let converted = try await client.send(.post, "/v1/leads/\(lead)/convert", headers: headers(key: key))
            let contact = try #require((try converted.json()["contact"] as? [String: Any])?["id"] as? String)
            _ = try await RestrictionTests.restrict(client, key: key, "/v1/contacts/\(contact)")

            let token = UnsubscribeToken.issue(for: .lead(UUID(uuidString: lead)!), with: Self.settings.secrets)
            let page = try await client.send(.get, "/u/\(token)?lang=de", headers: headers(key: nil))
            #expect(page.status == .ok && page.text.contains("Abmelden") && page.text.contains("<form"))
            // The page's button needs its CSRF token; without it nothing changes.
            var form = HTTPFields()
            form[.contentType] = "application/x-www-form-urlencoded"
            #expect(try await client.send(.post, "/u/\(token)", headers: form, body: "csrf=nope").status == .forbidden)
            #expect(try await Self.states(client, key: key, "/v1/contacts/\(contact)")[news] == "given")

            let done = try await client.send(.post, "/v1/public/unsubscribe/\(token)", headers: form, body: "List-Unsubscribe=One-Click")
            let withdrawn = try done.json()["withdrawn"] as? [String]
            #expect(withdrawn == [news])
            #expect(try await Self.states(client, key: key, "/v1/contacts/\(contact)")[news] == "withdrawn")
        }
    }
}
