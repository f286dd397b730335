import CustodianCore
import CustodianHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

@Suite("Idempotency-Key: a retried create happens once")
struct IdempotencyTests {
    private func withKey(_ key: String, _ apiKey: String) -> HTTPFields {
        var fields = headers(key: apiKey, json: true)
        fields[HTTPField.Name("Idempotency-Key")!] = key
        return fields
    }

    private func leads(_ pool: PostgresPool, named name: String) async throws -> Int {
        try await pool.query("SELECT count(*) AS n FROM leads WHERE name = $1", [name]).single().decode("n")
    }

    @Test func aRetryGetsTheFirstAnswerAndCreatesNothing() async throws {
        try await StaffFixture.withApp { fixture, client in
            let body = #"{"name": "Grace Hopper", "email": "grace@navy.example"}"#
            let first = try await client.send(.post, "/v1/leads", headers: withKey("create-grace-1", fixture.adminKey), body: body)
            #expect(first.status == .created)
            #expect(first.headers[HTTPField.Name("Idempotent-Replayed")!] == nil)
            let again = try await client.send(.post, "/v1/leads", headers: withKey("create-grace-1", fixture.adminKey), body: body)
            #expect(again.status == .created)
            #expect(again.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            #expect(again.text == first.text)
            #expect(again.headers[.location] == first.headers[.location])
            #expect(again.headers[.eTag] == first.headers[.eTag])
            #expect(try await leads(fixture.pool, named: "Grace Hopper") == 1)

            // The same key with another body is refused; a new key creates anew.
            let other = try await client.send(
                .post, "/v1/leads", headers: withKey("create-grace-1", fixture.adminKey), body: #"{"name": "Ada Lovelace"}"#
            )
            #expect(other.status == .unprocessableContent)
            #expect(try other.json()["type"] as? String == "urn:custodian:problem:idempotency-key-reused")
            #expect(
                try await client.send(.post, "/v1/leads", headers: withKey("create-grace-2", fixture.adminKey), body: body).status
                    == .created)
            #expect(try await leads(fixture.pool, named: "Grace Hopper") == 2)
        }
    }

    @Test func concurrentRetriesWithOneKeyCreateOneRecord() async throws {
        try await StaffFixture.withApp { fixture, client in
            let body = #"{"name": "Katherine Johnson"}"#
            let locations = try await withThrowingTaskGroup(of: String?.self) { group in
                for _ in 0..<10 {
                    group.addTask {
                        let response = try await client.send(
                            .post, "/v1/leads", headers: withKey("katherine", fixture.adminKey), body: body)
                        #expect(response.status == .created)
                        return response.headers[.location]
                    }
                }
                return try await group.reduce(into: Set<String?>()) { $0.insert($1) }
            }
            #expect(locations.count == 1)
            #expect(try await leads(fixture.pool, named: "Katherine Johnson") == 1)
        }
    }

    @Test func aFailedCreateKeepsNoKeyAndEachMemberHasTheirOwnKeys() async throws {
        try await StaffFixture.withApp { fixture, client in
            let invalid = try await client.send(.post, "/v1/leads", headers: withKey("k1", fixture.adminKey), body: #"{"name": ""}"#)
            #expect(invalid.status == .unprocessableContent)
            #expect(try await fixture.pool.query("SELECT 1 FROM idempotency_keys").isEmpty)
            let fixed = try await client.send(.post, "/v1/leads", headers: withKey("k1", fixture.adminKey), body: #"{"name": "Mary"}"#)
            #expect(fixed.status == .created)
            let colleague = try await fixture.key(role: .staff)
            let theirs = try await client.send(.post, "/v1/leads", headers: withKey("k1", colleague), body: #"{"name": "Mary"}"#)
            #expect(theirs.status == .created)
            #expect(theirs.headers[HTTPField.Name("Idempotent-Replayed")!] == nil)
            #expect(try await leads(fixture.pool, named: "Mary") == 2)
        }
    }

    @Test func everyKindOfCreateTakesAKey() async throws {
        try await StaffFixture.withApp { fixture, client in
            let lead = try #require(
                try await client.create("/v1/leads", key: fixture.adminKey, #"{"name": "Ada", "email": "ada@example.org"}"#)["id"]
                    as? String)
            let purpose = #"{"name": "News", "description": "d", "lawful_basis": "consent", "applies_to": "both"}"#
            let purposeID = try #require(try await client.create("/v1/consent-purposes", key: fixture.adminKey, purpose)["id"] as? String)
            let creates: [(String, String, String)] = [
                ("/v1/staff", #"{"name": "Kim", "role": "staff"}"#, "SELECT count(*) AS n FROM staff WHERE name = 'Kim'"),
                ("/v1/customers", #"{"company": "Initech"}"#, "SELECT count(*) AS n FROM customers"),
                (
                    "/v1/custom-fields", #"{"entity": "lead", "key": "tier", "label": "Tier", "type": "text"}"#,
                    "SELECT count(*) AS n FROM custom_field_definitions"
                ),
                (
                    "/v1/consent-purposes", #"{"name": "Events", "description": "d", "lawful_basis": "consent", "applies_to": "both"}"#,
                    "SELECT count(*) AS n FROM consent_purposes"
                ),
                ("/v1/leads/\(lead)/notes", #"{"text": "Met at the fair"}"#, "SELECT count(*) AS n FROM lead_notes"),
                (
                    "/v1/leads/\(lead)/consents", #"{"purpose_id": "\#(purposeID)", "action": "give"}"#,
                    "SELECT count(*) AS n FROM consent_records"
                ),
                ("/v1/leads/\(lead)/convert", "{}", "SELECT count(*) AS n FROM contacts"),
            ]
            for (index, (path, body, count)) in creates.enumerated() {
                let before: Int = try await fixture.pool.query(count).single().decode("n")
                for _ in 0..<2 {
                    let response = try await client.send(.post, path, headers: withKey("op-\(index)", fixture.adminKey), body: body)
                    #expect(response.status == .created, "\(path): \(response.text)")
                }
                let after: Int = try await fixture.pool.query(count).single().decode("n")
                #expect(after == before + 1, "\(path)")
            }
            // Answers holding a secret shown once cannot be replayed: the header is refused.
            let staffID: String = try await fixture.pool.query("SELECT id::text FROM staff LIMIT 1").single().decode("id")
            for (path, body) in [
                ("/v1/api-keys", #"{"staff_id": "\#(staffID)", "name": "laptop"}"#), ("/v1/contacts/\(UUID())/consent-link", ""),
            ] {
                let refused = try await client.send(.post, path, headers: withKey("secret", fixture.adminKey), body: body)
                #expect(refused.status == .badRequest, "\(path)")
                #expect(try refused.json()["type"] as? String == "urn:custodian:problem:idempotency-not-supported")
            }
            let tooLong = try await client.send(
                .post, "/v1/leads", headers: withKey(String(repeating: "k", count: 256), fixture.adminKey), body: #"{"name": "X"}"#)
            #expect(tooLong.status == .badRequest)
        }
    }

    @Test func keysExpireAfterADay() async throws {
        try await StaffFixture.withApp { fixture, client in
            let body = #"{"name": "Hedy Lamarr"}"#
            #expect(try await client.send(.post, "/v1/leads", headers: withKey("hedy", fixture.adminKey), body: body).status == .created)
            try await fixture.pool.execute("UPDATE idempotency_keys SET expires_at = now() - interval '1 second'")
            // An expired key is a new key.
            let later = try await client.send(.post, "/v1/leads", headers: withKey("hedy", fixture.adminKey), body: body)
            #expect(later.headers[HTTPField.Name("Idempotent-Replayed")!] == nil)
            #expect(try await leads(fixture.pool, named: "Hedy Lamarr") == 2)
            try await fixture.pool.execute("UPDATE idempotency_keys SET expires_at = now() - interval '1 second'")
            #expect(try await IdempotencyKeys(database: fixture.pool).purgeExpired() == 1)
            #expect(try await fixture.pool.query("SELECT 1 FROM idempotency_keys").isEmpty)
        }
    }

    /// Every staff create takes the key (before, publishing a policy version, defining a form and
    /// recording an acceptance ignored it, and a retry published, defined or recorded twice), and
    /// the form's answer says where the form is.
    @Test func policyVersionsFormsAndAcceptancesAreCreatedOnceUnderOneKey() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            func twice(_ path: String, _ key: String, _ body: String) async throws -> TestResponse {
                let first = try await client.send(.post, path, headers: withKey(key, admin), body: body)
                #expect(first.status == .created, "\(path): \(first.text)")
                let again = try await client.send(.post, path, headers: withKey(key, admin), body: body)
                #expect(again.status == .created && again.text == first.text, "\(path)")
                #expect(again.headers[HTTPField.Name("Idempotent-Replayed")!] == "true", "\(path)")
                return first
            }
            _ = try await twice(
                "/v1/policies/terms/versions", "publish-terms",
                #"{"texts": [{"language": "en", "title": "Terms", "body": "v1"}]}"#)
            let versions: Int = try await fixture.pool.query("SELECT count(*)::int AS n FROM policy_versions WHERE kind = 'terms'")
                .single().decode("n")
            #expect(versions == 1)

            let form = try await twice(
                "/v1/forms", "define-form", #"{"name": "Once", "fields": ["name", "email"], "required_fields": ["name", "email"]}"#)
            let formID = try #require(try form.json()["id"] as? String)
            #expect(form.headers[.location] == "/v1/forms/\(formID)")
            #expect(try await client.send(.get, "/v1/forms/\(formID)", headers: headers(key: admin)).status == .ok)
            let forms: Int = try await fixture.pool.query("SELECT count(*)::int AS n FROM web_forms").single().decode("n")
            #expect(forms == 1)

            let lead = try await client.create("/v1/leads", key: admin, #"{"name": "Accepting Once"}"#)
            let leadID = try #require(lead["id"] as? String)
            _ = try await twice(
                "/v1/leads/\(leadID)/policy-acceptances", "accept-terms",
                #"{"kind": "terms", "version": 1, "language": "en"}"#)
            let acceptances: Int = try await fixture.pool.query("SELECT count(*)::int AS n FROM policy_acceptances")
                .single().decode("n")
            #expect(acceptances == 1)
        }
    }
}
