import CustodianCore
import CustodianHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

/// A change a person cannot undo goes through what they own: a new email address counts only once
/// it is confirmed through a link mailed to it, and password resets go only to a confirmed address.
@Suite("A changed email counts once it is confirmed")
struct EmailChangeTests {
    static let settings = PortalTests.settings

    private static func email(of lead: String, _ client: ContractClient, key: String) async throws -> String? {
        try await client.send(.get, "/v1/leads/\(lead)", headers: headers(key: key)).json()["email"] as? String
    }

    private static func confirm(_ client: ContractClient, token: String) async throws -> TestResponse {
        try await client.send(
            .post, "/v1/public/email-confirmations", headers: headers(key: nil, json: true), body: #"{"token": "\#(token)"}"#)
    }

    @Test func aNewEmailThroughAPersonalLinkChangesNothingUntilItsTokenIsUsed() async throws {
        try await StaffFixture.withApp(settings: Self.settings) { fixture, client in
            let admin = fixture.adminKey
            let lead = try #require(
                try await client.create("/v1/leads", key: admin, #"{"name": "Ada Old", "email": "ada@old.example"}"#)["id"] as? String)
            let link = try await PrivacyCentreTests.token(client, key: admin, lead: lead)
            let patched = try await client.send(
                .patch, "/v1/public/people/\(link)", headers: headers(key: nil, json: true),
                body: #"{"email": "ada@attacker.example", "name": "Ada New"}"#)
            #expect(patched.status == .ok, "\(patched.text)")
            let pending = try #require(try patched.json()["email_confirmation"] as? [String: Any])
            #expect(pending["sent_to"] as? String == "ada@attacker.example")
            // The name is written; the email is not.
            #expect(try await Self.email(of: lead, client, key: admin) == "ada@old.example")
            let read = try await client.send(.get, "/v1/leads/\(lead)", headers: headers(key: admin)).json()
            #expect(read["name"] as? String == "Ada New")

            // The new address gets the link; the current one is told.
            let confirmation = try await PortalTests.mailed(fixture, type: "person.email_confirmation_requested")
            #expect(confirmation["email"]?.string == "ada@attacker.example")
            #expect(confirmation["subject_id"]?.string == lead)
            let token = try #require(confirmation["token"]?.string)
            #expect(confirmation["link"]?.string == "http://127.0.0.1:8080/confirm-email?token=\(token)")
            let notice = try await PortalTests.mailed(fixture, type: "person.email_change_requested")
            #expect(notice["email"]?.string == "ada@old.example")
            #expect(notice["token"] == nil)
            // At rest, neither the token nor the new address is readable in the outbox.
            let stored: String = try await fixture.pool.query(
                "SELECT string_agg(payload::text, ' ') AS p FROM webhook_events"
            ).single().decode("p")
            #expect(!stored.contains(token) && !stored.contains("attacker"))

            // A forged or altered token changes nothing.
            var altered = Array(token)
            altered[10] = altered[10] == "A" ? "B" : "A"
            for bad in [String(altered), "not-a-token", String(repeating: "A", count: 9000)] {
                #expect(try await Self.confirm(client, token: bad).status == .unprocessableContent)
            }
            #expect(try await Self.email(of: lead, client, key: admin) == "ada@old.example")

            // The token, used, changes the email once, recorded as the person's correction.
            #expect(try await Self.confirm(client, token: token).status == .noContent)
            #expect(try await Self.email(of: lead, client, key: admin) == "ada@attacker.example")
            #expect(try await Self.confirm(client, token: token).status == .unprocessableContent)
            let corrections = try #require(
                try await client.send(.get, "/v1/leads/\(lead)/corrections", headers: headers(key: admin)).json()["data"]
                    as? [[String: Any]])
            #expect(corrections.contains { $0["field"] as? String == "email" && $0["corrected_by"] as? String == "person" })
        }
    }

    @Test func aTokenForARecordThatChangedSinceIsRefused() async throws {
        try await StaffFixture.withApp(settings: Self.settings) { fixture, client in
            let admin = fixture.adminKey
            let lead = try #require(
                try await client.create("/v1/leads", key: admin, #"{"name": "Bo", "email": "bo@old.example"}"#)["id"] as? String)
            let link = try await PrivacyCentreTests.token(client, key: admin, lead: lead)
            for address in ["bo@first.example", "bo@second.example"] {
                _ = try await client.send(
                    .patch, "/v1/public/people/\(link)", headers: headers(key: nil, json: true), body: #"{"email": "\#(address)"}"#)
            }
            let second = try #require(try await PortalTests.mailed(fixture, type: "person.email_confirmation_requested")["token"]?.string)
            // Staff correct the phone meanwhile: the record the person asked about is not the one there now.
            _ = try await client.send(
                .patch, "/v1/leads/\(lead)", headers: headers(key: admin, json: true), body: #"{"phone": "+49 30 2"}"#)
            #expect(try await Self.confirm(client, token: second).status == .unprocessableContent)
            #expect(try await Self.email(of: lead, client, key: admin) == "bo@old.example")
        }
    }

    @Test func aPortalEmailChangeNeedsTheCurrentPasswordAndMovesWhereResetsGo() async throws {
        try await PortalTests.withPortal { fixture, client in
            _ = try await client.create(
                "/v1/webhooks", key: fixture.adminKey,
                #"{"url": "https://mailer.example/hook", "events": ["contact.password_reset_requested"]}"#)
            let (session, contact, email) = try await PortalTests.registered(client, fixture)
            let bearer = PortalTests.bearer(session, json: true)
            let missing = try await client.send(.patch, "/v1/portal/me", headers: bearer, body: #"{"email": "zq-new@portal.example"}"#)
            #expect(missing.status == .unprocessableContent)
            #expect(missing.text.contains("current_password"))
            let wrong = try await client.send(
                .patch, "/v1/portal/me", headers: bearer, body: #"{"email": "zq-new@portal.example", "current_password": "guess guess"}"#)
            #expect(wrong.status == .unprocessableContent)
            let asked = try await client.send(
                .patch, "/v1/portal/me", headers: bearer,
                body: #"{"email": "zq-new@portal.example", "current_password": "\#(PortalTests.password)"}"#)
            #expect(asked.status == .ok, "\(asked.text)")
            let token = try #require(try await PortalTests.mailed(fixture, type: "person.email_confirmation_requested")["token"]?.string)

            // Until confirmed, resets go to the old address only.
            let resets = "webhook_events WHERE type = 'contact.password_reset_requested'"
            for address in ["zq-new@portal.example", email] {
                _ = try await client.send(
                    .post, "/v1/portal/password-reset", headers: headers(key: nil, json: true), body: #"{"email": "\#(address)"}"#)
            }
            #expect(try await PortalTests.count(fixture, resets) == 1)
            #expect(try await Self.confirm(client, token: token).status == .noContent)
            let read = try await client.send(.get, "/v1/contacts/\(contact)", headers: headers(key: fixture.adminKey)).json()
            #expect(read["email"] as? String == "zq-new@portal.example")
            _ = try await client.send(
                .post, "/v1/portal/password-reset", headers: headers(key: nil, json: true), body: #"{"email": "zq-new@portal.example"}"#)
            #expect(try await PortalTests.count(fixture, resets) == 2)

            // An address staff enter is not confirmed: no reset goes there.
            _ = try await client.send(
                .patch, "/v1/contacts/\(contact)", headers: headers(key: fixture.adminKey, json: true),
                body: #"{"email": "zq-staff@portal.example"}"#)
            _ = try await client.send(
                .post, "/v1/portal/password-reset", headers: headers(key: nil, json: true), body: #"{"email": "zq-staff@portal.example"}"#)
            #expect(try await PortalTests.count(fixture, resets) == 2)
        }
    }

    @Test func theConfirmationPageAsksBeforeItChangesAnything() async throws {
        try await StaffFixture.withApp(settings: Self.settings) { fixture, client in
            let admin = fixture.adminKey
            let lead = try #require(
                try await client.create("/v1/leads", key: admin, #"{"name": "Cy", "email": "cy@old.example"}"#)["id"] as? String)
            let link = try await PrivacyCentreTests.token(client, key: admin, lead: lead)
            _ = try await client.send(
                .patch, "/v1/public/people/\(link)", headers: headers(key: nil, json: true), body: #"{"email": "cy@new.example"}"#)
            let token = try #require(try await PortalTests.mailed(fixture, type: "person.email_confirmation_requested")["token"]?.string)
            let page = try await client.send(.get, "/confirm-email?token=\(token)&lang=de")
            #expect(page.status == .ok)
            #expect(page.text.contains("Neue E-Mail-Adresse bestätigen"))
            #expect(try await Self.email(of: lead, client, key: admin) == "cy@old.example")
            let browser = try PageTests.Browser(page)
            // Without the page's token: refused, nothing changes.
            let forged = try await client.send(
                .post, "/confirm-email", headers: browser.headers(), body: browser.body([("token", token)], withToken: false))
            #expect(forged.status == .forbidden)
            #expect(try await Self.email(of: lead, client, key: admin) == "cy@old.example")
            let done = try await client.send(
                .post, "/confirm-email?lang=en", headers: browser.headers(), body: browser.body([("token", token)]))
            #expect(done.status == .ok, "\(done.text)")
            #expect(done.text.contains("Your new email address is confirmed."))
            #expect(try await Self.email(of: lead, client, key: admin) == "cy@new.example")
        }
    }
}
