import CustodianCore
import CustodianHTTP
import Foundation
import HTTPTypes
import HummingbirdTesting
import JSONText
import Postgres
import TestSupport
import Testing

/// A person without their link asks for it by email; the answer tells nobody who is in the CRM.
@Suite("Link requests: a fresh link by mail for a known address, the same answer for any")
struct LinkRequestTests {
    static let settings = ServerSettings()

    static func ask(_ client: ContractClient, _ email: String) async throws -> TestResponse {
        try await client.send(.post, "/v1/public/link-requests", headers: headers(key: nil, json: true), body: #"{"email": "\#(email)"}"#)
    }

    static func requested(_ fixture: StaffFixture) async throws -> Int {
        try await PortalTests.count(fixture, "webhook_events WHERE type = 'person.link_requested'")
    }

    @Test func aKnownAddressGetsAFreshLinkAndAnUnknownOneTheSameAnswer() async throws {
        try await StaffFixture.withApp(settings: Self.settings) { fixture, client in
            let key = fixture.adminKey
            let marker = SeededPerson.marker()
            let email = "lia\(marker)@example.org"
            let lead = try #require(
                try await client.create("/v1/leads", key: key, #"{"name": "Lia \#(marker)", "email": "\#(email)"}"#)["id"] as? String)
            let old = try await client.send(.post, "/v1/leads/\(lead)/consent-link", headers: headers(key: key))
            let oldToken = try #require((try old.json()["url"] as? String)?.split(separator: "/").last.map(String.init))
            _ = try await RestrictionTests.restrict(client, key: key, "/v1/leads/\(lead)")

            let known = try await Self.ask(client, email.uppercased())
            let unknown = try await Self.ask(client, "nobody\(marker)@example.org")
            #expect(known.status == .accepted && unknown.status == .accepted)
            #expect(known.text == unknown.text, "the answer says nothing about the address")
            #expect(try await Self.requested(fixture) == 1)

            let mail = try await PortalTests.mailed(fixture, type: "person.link_requested", secrets: Self.settings.secrets)
            #expect(mail["email"]?.string == email && mail["subject_id"]?.string == lead)
            let token = try #require(mail["token"]?.string)
            #expect(mail["link"]?.string?.hasSuffix("/" + token) == true)
            #expect(try await client.send(.get, "/v1/public/consent/\(token)", headers: headers(key: nil)).status == .ok)
            #expect(try await client.send(.get, "/v1/public/consent/\(oldToken)", headers: headers(key: nil)).status == .notFound)
            let stored: String = try await fixture.pool.query(
                "SELECT payload::text AS p FROM webhook_events WHERE type = 'person.link_requested'"
            ).single().decode("p")
            #expect(!stored.contains(token), "the link is sealed at rest")

            // Three an hour at most: asking more sends nothing more, and answers alike.
            for _ in 0..<3 { #expect(try await Self.ask(client, email).status == .accepted) }
            #expect(try await Self.requested(fixture) == 3)
            #expect(try await Self.ask(client, "not an address").status == .unprocessableContent)
        }
    }
}
