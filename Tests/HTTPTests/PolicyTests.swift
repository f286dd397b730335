import CustodianCore
import CustodianHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

@Suite("Policies: immutable versions in two languages, every acceptance recorded")
struct PolicyTests {
    static func publish(
        _ client: ContractClient, key: String, _ kind: String, _ body: String, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> [[String: Any]] {
        let response = try await client.send(
            .post, "/v1/policies/\(kind)/versions", headers: headers(key: key, json: true), body: body, sourceLocation: sourceLocation)
        #expect(response.status == .created, "\(response.text)", sourceLocation: sourceLocation)
        return try response.json()["data"] as? [[String: Any]] ?? []
    }

    static func current(_ client: ContractClient, _ query: String = "") async throws -> [String: Any] {
        try await client.send(.get, "/v1/public/policies/terms\(query)").json()
    }

    @Test func theVersionInEffectIsServedInTheLanguageAskedForOrTheDefault() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            #expect(try await client.send(.get, "/v1/public/policies/terms").status == .notFound, "nothing published yet")
            let staff = try await fixture.key(role: .staff)
            let refused = try await client.send(
                .post, "/v1/policies/terms/versions", headers: headers(key: staff, json: true),
                body: #"{"texts": [{"language": "en", "title": "Terms", "body": "Be nice."}]}"#)
            #expect(refused.status == .forbidden)
            let first = try await Self.publish(
                client, key: admin, "terms",
                #"{"texts": [{"language": "de", "title": "AGB", "body": "Seien Sie nett."}, {"language": "en", "title": "Terms", "body": "Be nice."}]}"#
            )
            #expect(first.count == 2 && first.allSatisfy { $0["version"] as? Int == 1 })
            #expect(try await Self.current(client, "?lang=de")["title"] as? String == "AGB")
            #expect(try await Self.current(client, "?lang=en")["title"] as? String == "Terms")
            #expect(try await Self.current(client)["title"] as? String == "Terms", "the default language")
            #expect(try await client.send(.get, "/v1/public/policies/terms?lang=fr").status == .unprocessableContent)
            #expect(try await client.send(.get, "/v1/public/policies/cookies").status == .notFound)

            let settings = try await client.send(.get, "/v1/settings/policies", headers: headers(key: admin))
            let changed = try await client.send(
                .patch, "/v1/settings/policies", headers: headers(key: admin, json: true, ifMatch: settings.headers[.eTag]),
                body: #"{"default_language": "de"}"#)
            #expect(changed.status == .ok)
            #expect(try await Self.current(client)["title"] as? String == "AGB")

            // A version published ahead takes effect at its time; one in English only falls back to it.
            _ = try await Self.publish(
                client, key: admin, "terms",
                #"{"effective_at": "2999-01-01T00:00:00Z", "texts": [{"language": "en", "title": "Future terms", "body": "Later."}]}"#)
            #expect(try await Self.current(client)["version"] as? Int == 1)
            _ = try await Self.publish(client, key: admin, "terms", #"{"texts": [{"language": "en", "title": "Terms 3", "body": "Now."}]}"#)
            let third = try await Self.current(client, "?lang=de")
            #expect(third["version"] as? Int == 3 && third["language"] as? String == "en")

            let twice = try await client.send(
                .post, "/v1/policies/privacy/versions", headers: headers(key: admin, json: true),
                body: #"{"texts": [{"language": "en", "title": "A", "body": "B"}, {"language": "en", "title": "C", "body": "D"}]}"#)
            #expect(twice.status == .unprocessableContent && twice.text.contains("texts[1].language"))
            let nullTime = try await client.send(
                .post, "/v1/policies/privacy/versions", headers: headers(key: admin, json: true),
                body: #"{"effective_at": null, "texts": [{"language": "en", "title": "A", "body": "B"}]}"#)
            #expect(nullTime.status == .unprocessableContent && nullTime.text.contains("effective_at"))
            let versions = try await client.send(
                .get, "/v1/policies/terms/versions", headers: headers(key: try await fixture.key(role: .readonly)))
            #expect((try versions.json()["data"] as? [Any])?.count == 4)

            // Published text never changes, whoever asks.
            try await fixture.database.withPool(role: .owner) { owner in
                await #expect(throws: PostgresError.self) { try await owner.execute("UPDATE policy_versions SET body = 'changed'") }
                await #expect(throws: PostgresError.self) { try await owner.execute("DELETE FROM policy_versions") }
            }
        }
    }

    @Test func acceptancesAreRecordedWhereverGivenAndStayWithThePerson() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            _ = try await Self.publish(client, key: admin, "privacy", #"{"texts": [{"language": "en", "title": "Privacy", "body": "v1"}]}"#)
            _ = try await Self.publish(client, key: admin, "privacy", #"{"texts": [{"language": "en", "title": "Privacy", "body": "v2"}]}"#)
            let lead = try #require(try await client.create("/v1/leads", key: admin, #"{"name": "Pia Policy"}"#)["id"] as? String)
            let link = try await client.send(.post, "/v1/leads/\(lead)/consent-link", headers: headers(key: admin)).json()
            let token = String(try #require((link["url"] as? String)?.split(separator: "/").last))

            let old = try await client.send(
                .post, "/v1/public/people/\(token)/policy-acceptances", headers: headers(key: nil, json: true),
                body: #"{"kind": "privacy", "version": 1, "language": "en"}"#)
            #expect(old.status == .unprocessableContent && old.text.contains("version"), "only the version in effect")
            let noText = try await client.send(
                .post, "/v1/public/people/\(token)/policy-acceptances", headers: headers(key: nil, json: true),
                body: #"{"kind": "privacy", "version": 2, "language": "de"}"#)
            #expect(noText.status == .unprocessableContent && noText.text.contains("language"))
            var browser = headers(key: nil, json: true)
            browser[.userAgent] = "PolicyTest/1.0"
            let accepted = try await client.send(
                .post, "/v1/public/people/\(token)/policy-acceptances", headers: browser,
                body: #"{"kind": "privacy", "version": 2, "language": "en"}"#)
            #expect(accepted.status == .created, "\(accepted.text)")
            #expect(try accepted.json()["context"] as? String == "privacy_centre")
            #expect(try accepted.json()["user_agent"] as? String == "PolicyTest/1.0")

            let staff = try await fixture.key(role: .staff)
            let byStaff = try await client.send(
                .post, "/v1/leads/\(lead)/policy-acceptances", headers: headers(key: staff, json: true),
                body: #"{"kind": "privacy", "version": 2, "language": "en"}"#)
            #expect(byStaff.status == .created)
            #expect(try byStaff.json()["context"] as? String == "staff" && byStaff.json()["staff_id"] as? String != nil)
            let unknown = try await client.send(
                .post, "/v1/contacts/\(UUID())/policy-acceptances", headers: headers(key: staff, json: true),
                body: #"{"kind": "privacy", "version": 2, "language": "en"}"#)
            #expect(unknown.status == .notFound)

            let listed = try await client.send(.get, "/v1/leads/\(lead)/policy-acceptances", headers: headers(key: admin)).json()
            #expect((listed["data"] as? [[String: Any]])?.compactMap { $0["context"] as? String } == ["privacy_centre", "staff"])
            let (_, document) = try await ExportTests.export("/v1/leads/\(lead)/export", key: admin, client)
            #expect((document["policy_acceptances"] as? [[String: Any]])?.count == 2, "acceptances are in the person's export")

            // Proof stays: no DELETE of the person, no change or removal of an acceptance outside an erasure.
            let deleted = try await client.send(.delete, "/v1/leads/\(lead)", headers: headers(key: admin))
            #expect(deleted.status == .conflict)
            await #expect(throws: PostgresError.self) { try await fixture.pool.execute("UPDATE policy_acceptances SET ip = '1.2.3.4'") }
            await #expect(throws: PostgresError.self) { try await fixture.pool.execute("DELETE FROM policy_acceptances") }

            let erasure = try await client.openErasure(subjectType: "lead", subjectID: lead, key: admin)
            try await client.startErasure(erasure, key: admin)
            #expect(try await client.send(.post, "/v1/requests/\(erasure)/erase", headers: headers(key: admin)).status == .ok)
            let left: Int = try await fixture.pool.query("SELECT count(*)::int AS n FROM policy_acceptances").single().decode("n")
            #expect(left == 0, "an erasure removes them")
        }
    }
}
