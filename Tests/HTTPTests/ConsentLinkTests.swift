import CustodianCore
import CustodianHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

@Suite("Personal consent links and the public consent endpoints")
struct ConsentLinkTests {
    struct Setup {
        let lead: String
        let purposes: [String]
    }

    /// A lead with some personal data, two purposes for leads and one for contacts only.
    private func setUp(_ fixture: StaffFixture, _ client: ContractClient) async throws -> Setup {
        var purposes: [String] = []
        for (name, appliesTo) in [("Newsletter", "both"), ("Event invitations", "leads"), ("Contact surveys", "contacts")] {
            purposes.append(
                try #require(
                    try await client.create(
                        "/v1/consent-purposes", key: fixture.adminKey,
                        #"{"name": "\#(name)", "description": "About \#(name).", "lawful_basis": "consent", "applies_to": "\#(appliesTo)"}"#
                    )["id"] as? String))
        }
        let lead = try #require(
            try await client.create(
                "/v1/leads", key: fixture.adminKey,
                #"{"name": "Ada King Lovelace", "email": "ada@secret.example", "phone": "+44 20 7946 0000", "company": "Engines Ltd", "description": "private notes"}"#
            )["id"] as? String)
        return Setup(lead: lead, purposes: purposes)
    }

    private func issue(_ client: ContractClient, key: String, lead: String) async throws -> String {
        let response = try await client.send(.post, "/v1/leads/\(lead)/consent-link", headers: headers(key: key))
        #expect(response.status == .created)
        #expect(response.headers[.cacheControl] == "no-store")
        let url = try #require(try response.json()["url"] as? String)
        #expect(url.hasPrefix("http://127.0.0.1:8080/p/"))
        return String(try #require(url.split(separator: "/").last))
    }

    @Test func theHolderSeesOnlyWhatTheyNeedAndDecidesPerPurpose() async throws {
        try await StaffFixture.withApp { fixture, client in
            let setup = try await setUp(fixture, client)
            let token = try await issue(client, key: fixture.adminKey, lead: setup.lead)
            #expect(token.count == 43)
            let page = try await client.send(.get, "/v1/public/consent/\(token)")
            #expect(page.status == .ok)
            let body = try page.json()
            #expect(body["first_name"] as? String == "Ada")
            let shown = (body["purposes"] as? [[String: Any]] ?? []).compactMap { $0["purpose_id"] as? String }
            #expect(shown == Array(setup.purposes.prefix(2)))
            for secret in ["secret.example", "Lovelace", "7946", "Engines", "private", setup.lead] {
                #expect(!page.text.contains(secret), "the public page leaks \(secret)")
            }

            var fields = HTTPFields()
            fields[.contentType] = "application/json"
            fields[.userAgent] = "Mozilla/5.0 (Test)"
            let decided = try await client.send(
                .post, "/v1/public/consent/\(token)", headers: fields,
                body:
                    #"{"decisions": [{"purpose_id": "\#(setup.purposes[0])", "action": "give"}, {"purpose_id": "\#(setup.purposes[1])", "action": "withdraw"}]}"#
            )
            #expect(decided.status == .ok)
            let states = (try decided.json()["purposes"] as? [[String: Any]] ?? []).compactMap { $0["state"] as? String }
            #expect(states == ["given", "withdrawn"])
            let history = try await client.send(.get, "/v1/leads/\(setup.lead)/consents", headers: headers(key: fixture.adminKey)).json()
            let records = try #require(history["history"] as? [[String: Any]])
            #expect(records.count == 2)
            #expect(
                records.allSatisfy { $0["channel"] as? String == "consent_link" && $0["user_agent"] as? String == "Mozilla/5.0 (Test)" })
            #expect(records.allSatisfy { $0["staff_id"] is NSNull })

            for invalid in [
                #"{"decisions": []}"#,
                #"{"decisions": [{"purpose_id": "\#(setup.purposes[2])", "action": "give"}]}"#,
                #"{"decisions": [{"purpose_id": "\#(setup.purposes[0])", "action": "give"}, {"purpose_id": "\#(setup.purposes[0])", "action": "withdraw"}]}"#,
                #"{"decisions": [{"purpose_id": "\#(setup.purposes[0])", "action": "maybe"}]}"#,
                #"{"choices": []}"#,
            ] {
                let response = try await client.send(.post, "/v1/public/consent/\(token)", headers: fields, body: invalid)
                #expect(response.status == .unprocessableContent, "\(invalid)")
            }
            let after = try await client.send(.get, "/v1/leads/\(setup.lead)/consents", headers: headers(key: fixture.adminKey)).json()
            #expect((after["history"] as? [Any])?.count == 2)
        }
    }

    @Test func rotatedRevokedExpiredAndUnknownLinksAreTheSame404() async throws {
        try await StaffFixture.withApp { fixture, client in
            let setup = try await setUp(fixture, client)
            let first = try await issue(client, key: fixture.adminKey, lead: setup.lead)
            let second = try await issue(client, key: fixture.adminKey, lead: setup.lead)
            #expect(first != second)
            let rotated = try await client.send(.get, "/v1/public/consent/\(first)")
            let unknown = try await client.send(.get, "/v1/public/consent/\(String(repeating: "A", count: 43))")
            let garbage = try await client.send(.get, "/v1/public/consent/not-a-token")
            for response in [rotated, unknown, garbage] {
                #expect(response.status == .notFound)
                #expect(try response.json()["detail"] as? String == "this consent link is not valid")
            }
            #expect(try await client.send(.get, "/v1/public/consent/\(second)").status == .ok)

            try await fixture.pool.execute("UPDATE consent_links SET expires_at = now() - interval '1 second'")
            #expect(try await client.send(.get, "/v1/public/consent/\(second)").status == .notFound)

            let third = try await issue(client, key: fixture.adminKey, lead: setup.lead)
            #expect(
                try await client.send(.delete, "/v1/leads/\(setup.lead)/consent-link", headers: headers(key: fixture.adminKey)).status
                    == .noContent)
            #expect(try await client.send(.get, "/v1/public/consent/\(third)").status == .notFound)
            // Ended links keep their rows (who issued them, how they ended) but not their token hashes.
            let links = try await fixture.pool.query(
                "SELECT count(*) FILTER (WHERE ended_at IS NULL) AS live, count(token_hash) AS hashes, count(*) AS total FROM consent_links"
            ).single()
            #expect(try links.decode("live", as: Int.self) == 0)
            #expect(try links.decode("hashes", as: Int.self) == 0)
            #expect(try links.decode("total", as: Int.self) == 3)
            let listed = try await client.send(
                .get, "/v1/leads/\(setup.lead)/consent-link-history", headers: headers(key: fixture.adminKey)
            )
            .json()
            let reasons = (listed["data"] as? [[String: Any]] ?? []).compactMap { $0["end_reason"] as? String }
            #expect(reasons == ["revoked", "rotated", "rotated"])
        }
    }

    @Test func settingsControlLinksLifetimeAndWhoMayUseThem() async throws {
        try await StaffFixture.withApp { fixture, client in
            let setup = try await setUp(fixture, client)
            let changed = try await client.send(
                .patch, "/v1/settings/consent", headers: headers(key: fixture.adminKey, json: true),
                body: #"{"link_lifetime_days": 30, "controller_name": "Acme GmbH", "page_text": "Choose what we may send you."}"#
            )
            #expect(changed.status == .ok)
            let link = try await client.send(.post, "/v1/leads/\(setup.lead)/consent-link", headers: headers(key: fixture.adminKey)).json()
            let expires = try #require(link["expires_at"] as? String)
            #expect(expires.hasPrefix(String(ISO8601DateFormatter().string(from: Date().addingTimeInterval(30 * 86400)).prefix(10))))
            let token = String(try #require((link["url"] as? String)?.split(separator: "/").last))
            let page = try await client.send(.get, "/v1/public/consent/\(token)").json()
            #expect(page["controller"] as? String == "Acme GmbH")
            #expect(page["page_text"] as? String == "Choose what we may send you.")

            _ = try await client.send(
                .patch, "/v1/settings/consent", headers: headers(key: fixture.adminKey, json: true), body: #"{"leads_enabled": false}"#)
            #expect(try await client.send(.get, "/v1/public/consent/\(token)").status == .notFound)
            #expect(
                try await client.send(.post, "/v1/leads/\(setup.lead)/consent-link", headers: headers(key: fixture.adminKey)).status
                    == .conflict)
            let staff = try await fixture.key(role: .staff)
            #expect(
                try await client.send(
                    .patch, "/v1/settings/consent", headers: headers(key: staff, json: true), body: #"{"leads_enabled": true}"#
                ).status == .forbidden)
            #expect(
                try await client.send(
                    .patch, "/v1/settings/consent", headers: headers(key: fixture.adminKey, json: true), body: #"{"link_lifetime_days": 0}"#
                ).status == .unprocessableContent)
        }
    }

    @Test func publicEndpointsAreRateLimitedPerClient() async throws {
        // An hour-long window: a window boundary inside the four requests would make this flaky.
        try await StaffFixture.withApp(settings: ServerSettings(publicRateLimit: 3, publicRateWindow: .seconds(3600))) { fixture, client in
            for _ in 0..<3 {
                #expect(try await client.send(.get, "/v1/public/consent/\(String(repeating: "B", count: 43))").status == .notFound)
            }
            let limited = try await client.send(.get, "/v1/public/consent/\(String(repeating: "B", count: 43))")
            #expect(limited.status == .tooManyRequests)
            let retryAfter = try #require(limited.headers[.retryAfter].flatMap { Int($0) })
            #expect((1...3600).contains(retryAfter))
            #expect(try limited.json()["type"] as? String == "urn:custodian:problem:too-many-requests")
            // Staff endpoints are not limited.
            #expect(try await client.send(.get, "/v1/consent-purposes", headers: headers(key: fixture.adminKey)).status == .ok)
        }
    }
}
