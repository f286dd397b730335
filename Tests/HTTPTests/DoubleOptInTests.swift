import CustodianCore
import CustodianHTTP
import Foundation
import HTTPTypes
import JSONText
import Postgres
import TestSupport
import Testing

/// Double opt-in: a consent given through a web form or a link for a purpose that asks for it is
/// pending until the person confirms it with the token the mailer sent; the chain holds both.
@Suite("Double opt-in: pending until confirmed by mail, once, from form to consenters list")
struct DoubleOptInTests {
    static let settings = ServerSettings(unsubscribeBaseURL: "https://privacy.example.com")

    @Test func aWebFormConsentCountsOnceThePersonConfirmsIt() async throws {
        try await StaffFixture.withApp(settings: Self.settings) { fixture, client in
            let admin = fixture.adminKey
            _ = try await client.create(
                "/v1/webhooks", key: admin,
                #"{"url": "https://hooks.example.org/mail", "events": ["person.consent_confirmation_requested", "consent.given", "consent.confirmed"]}"#
            )
            let purpose = try await client.createPurpose(key: admin, name: "Letters", appliesTo: "leads", doubleOptIn: true)
            let form = try await client.create(
                "/v1/forms", key: admin, #"{"name": "Sign up", "fields": ["name", "email"], "purposes": ["\#(purpose)"]}"#)
            let formKey = try #require(form["key"] as? String)
            let marker = SeededPerson.marker()
            let email = "dora\(marker)@example.org"
            let submitted = try await client.send(
                .post, "/v1/public/forms/\(formKey)", headers: headers(key: nil, json: true),
                body: #"{"name": "Dora \#(marker)", "email": "\#(email)", "consents": ["\#(purpose)"]}"#)
            #expect(submitted.status == .created, "\(submitted.text)")
            let lead: UUID = try await fixture.pool.query("SELECT id FROM leads WHERE email = $1", [email]).single().decode("id")

            #expect(try await UnsubscribeTests.states(client, key: admin, "/v1/leads/\(lead)")[purpose] == "pending")
            #expect(try await ObjectionTests.exportedStates(client, key: admin, "/v1/leads/\(lead)") == [purpose: "pending"])
            #expect(!(try await ObjectionTests.consenters(client, key: admin, purpose)).contains(lead.lowercasedString))
            #expect(
                try await ObjectionTests.events(fixture.pool, about: lead.lowercasedString) == ["person.consent_confirmation_requested"])

            // The mailer's event carries the address and the link; the database holds neither token nor link.
            let due = try await WebhookDeliveries(
                database: fixture.pool, secrets: Self.settings.secrets, unsubscribeBaseURL: Self.settings.unsubscribeBaseURL
            ).claim(limit: 50, lease: .seconds(60))
            let asked = try #require(due.first { $0.type == "person.consent_confirmation_requested" })
            #expect(asked.data["email"]?.string == email && asked.data["purpose_id"]?.string == purpose)
            let token = try #require(asked.data["confirmation_token"]?.string)
            #expect(asked.data["confirmation_url"]?.string == "https://privacy.example.com/c/\(token)")
            let stored: String = try await fixture.pool.query("SELECT string_agg(payload::text, ' ') AS p FROM webhook_events").single()
                .decode("p")
            #expect(!stored.contains(token))

            // Opening the page changes nothing (mail scanners open links).
            let page = try await client.send(.get, "/c/\(token)?lang=en", headers: headers(key: nil))
            #expect(page.status == .ok && page.text.contains("Confirm my consent") && page.text.contains("Letters"))
            #expect(try await UnsubscribeTests.states(client, key: admin, "/v1/leads/\(lead)")[purpose] == "pending")

            var fields = headers(key: nil)
            fields[.userAgent] = "MailClient/1.0"
            let confirmed = try await client.send(.post, "/v1/public/consent-confirmations/\(token)", headers: fields)
            #expect(confirmed.status == .ok, "\(confirmed.text)")
            #expect(try confirmed.json()["state"] as? String == "given")
            #expect(try await UnsubscribeTests.states(client, key: admin, "/v1/leads/\(lead)")[purpose] == "given")
            #expect(try await ObjectionTests.consenters(client, key: admin, purpose).contains(lead.lowercasedString))
            let chain: [String] = try await fixture.pool.query(
                "SELECT action || ':' || channel AS step FROM consent_records WHERE lead_id = $1 ORDER BY seq", [lead]
            ).map { try $0.decode("step") }
            #expect(chain == ["request:web_form", "confirm:confirmation"])
            #expect(try await ObjectionTests.events(fixture.pool, about: lead.lowercasedString).last == "consent.confirmed")
            let verified = try await client.send(.get, "/v1/leads/\(lead)/consents/verify", headers: headers(key: admin)).json()
            #expect(verified["intact"] as? Bool == true)

            // Single use; a forged or expired token is nobody's.
            #expect(try await client.send(.post, "/v1/public/consent-confirmations/\(token)", headers: fields).status == .conflict)
            var forged = Array(Data(base64URLEncoded: token)!)
            forged[forged.count - 1] ^= 1
            let expired = try ConsentConfirmations.token(
                request: UUID(), expiresAt: Date(timeIntervalSinceNow: -60), with: Self.settings.secrets)
            for bad in [Data(forged).base64URLEncoded, expired, "short"] {
                #expect(try await client.send(.post, "/v1/public/consent-confirmations/\(bad)", headers: fields).status == .notFound)
                #expect(try await client.send(.get, "/c/\(bad)", headers: headers(key: nil)).status == .notFound)
            }
        }
    }

    @Test func aLinkDecisionWaitsForConfirmationAndALaterDecisionOvertakesIt() async throws {
        try await StaffFixture.withApp(settings: Self.settings) { fixture, client in
            let admin = fixture.adminKey
            let purpose = try await client.createPurpose(key: admin, name: "Letters", doubleOptIn: true)
            let marker = SeededPerson.marker()
            let lead = try #require(
                try await client.create("/v1/leads", key: admin, #"{"name": "Eli \#(marker)", "email": "eli\#(marker)@example.org"}"#)["id"]
                    as? String)
            let link = try await ObjectionTests.link(client, key: admin, "/v1/leads/\(lead)")
            let given = try await ObjectionTests.decide(client, token: link, [(purpose, "give")])
            #expect(given.status == .ok)
            let shown = (try given.json()["purposes"] as? [[String: Any]] ?? []).first { $0["purpose_id"] as? String == purpose }
            #expect(shown?["state"] as? String == "pending")
            let request: UUID = try await fixture.pool.query(
                "SELECT id FROM consent_records WHERE lead_id = $1::uuid AND action = 'request'", [lead]
            ).single().decode("id")
            let token = try ConsentConfirmations.token(
                request: request, expiresAt: Date(timeIntervalSinceNow: 3600), with: Self.settings.secrets)

            // Withdrawn before the confirmation came: the old token confirms nothing.
            #expect(try await ObjectionTests.decide(client, token: link, [(purpose, "withdraw")]).status == .ok)
            #expect(
                try await client.send(.post, "/v1/public/consent-confirmations/\(token)", headers: headers(key: nil)).status == .conflict)
            #expect(try await UnsubscribeTests.states(client, key: admin, "/v1/leads/\(lead)")[purpose] == "withdrawn")

            // Staff recording a consent the person gave them is not a form: no confirmation asked.
            _ = try await client.create("/v1/leads/\(lead)/consents", key: admin, #"{"purpose_id": "\#(purpose)", "action": "give"}"#)
            #expect(try await UnsubscribeTests.states(client, key: admin, "/v1/leads/\(lead)")[purpose] == "given")
        }
    }
}
