import Crypto
import CustodianCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSONText
import Postgres
import TestSupport
import Testing

/// What the consent history promises, checked against the API's own database role, the owner,
/// and through the API.
@Suite("Consent guarantees: the database guards the history, receipts prove its length")
struct ConsentGuaranteesTests {
    private func purpose(_ client: ContractClient, key: String, name: String = "Newsletter") async throws -> String {
        try await client.createPurpose(key: key, name: name)
    }

    private func lead(_ client: ContractClient, key: String, _ body: String = #"{"name": "Ada Lovelace", "email": "ada@example.org"}"#)
        async throws -> String
    {
        try #require(try await client.create("/v1/leads", key: key, body)["id"] as? String)
    }

    @discardableResult
    private func decide(_ client: ContractClient, key: String, person: String, purpose: String, _ action: String) async throws
        -> [String: Any]
    {
        try await client.create(person + "/consents", key: key, #"{"purpose_id": "\#(purpose)", "action": "\#(action)"}"#)
    }

    private func historyCount(_ pool: PostgresPool, lead: String) async throws -> Int {
        try await pool.query("SELECT count(*) AS n FROM consent_records WHERE lead_id = $1::uuid", [lead]).single().decode("n")
    }

    @Test func theAPIRoleCannotChangeDeleteTruncateOrUnguardTheHistory() async throws {
        try await StaffFixture.withApp { fixture, client in
            let newsletter = try await purpose(client, key: fixture.adminKey)
            let leadID = try await lead(client, key: fixture.adminKey)
            try await decide(client, key: fixture.adminKey, person: "/v1/leads/\(leadID)", purpose: newsletter, "give")

            // Not even allowed to try (42501), or tried and refused by the guard (23001).
            for (statement, sqlState) in [
                ("UPDATE consent_records SET action = 'withdraw'", "42501"),
                // May delete (an erasure does), and is refused without the person's tombstone.
                ("DELETE FROM consent_records", "23001"),
                ("TRUNCATE consent_records", "42501"),
                ("TRUNCATE leads CASCADE", "42501"),
                ("ALTER TABLE consent_records DISABLE TRIGGER consent_records_append_only", "42501"),
                ("ALTER TABLE consent_records DISABLE TRIGGER ALL", "42501"),
                ("DROP TRIGGER consent_records_append_only ON consent_records", "42501"),
                ("ALTER TABLE consent_records DISABLE TRIGGER consent_records_erasure_only", "42501"),
                ("SET session_replication_role = replica", "42501"),
                ("UPDATE consent_purpose_versions SET description = 'Something else entirely.'", "42501"),
                ("UPDATE erasure_tombstones SET subject_id = gen_random_uuid()", "42501"),
                ("CREATE TABLE shadow (id int)", "42501"),
                ("DELETE FROM leads WHERE id = '\(leadID)'", "23001"),
            ] {
                let error = try await #require(throws: PostgresError.self, "\(statement)") { try await fixture.pool.execute(statement) }
                #expect(error.sqlState == sqlState, "\(statement)")
            }
            // The flag the old guard read is a plain setting now: setting it opens nothing.
            let flagged = try await #require(throws: PostgresError.self) {
                try await fixture.pool.transaction { transaction in
                    try await transaction.execute("SET LOCAL custodian.erasure = 'on'")
                    try await transaction.execute("DELETE FROM leads WHERE id = $1::uuid", [leadID])
                }
            }
            #expect(flagged.sqlState == "23001")
            #expect(try await historyCount(fixture.pool, lead: leadID) == 1)
            let verdict = try await client.send(.get, "/v1/leads/\(leadID)/consents/verify", headers: headers(key: fixture.adminKey)).json()
            #expect(verdict["intact"] as? Bool == true)
        }
    }

    @Test func theOwnerMeetsTheSameTriggers() async throws {
        try await StaffFixture.withApp { fixture, client in
            let newsletter = try await purpose(client, key: fixture.adminKey)
            let leadID = try await lead(client, key: fixture.adminKey)
            try await decide(client, key: fixture.adminKey, person: "/v1/leads/\(leadID)", purpose: newsletter, "give")
            try await fixture.database.withPool(role: .owner) { owner in
                for statement in [
                    "UPDATE consent_records SET action = 'withdraw'",
                    "DELETE FROM consent_records",
                    "TRUNCATE consent_records",
                    "UPDATE consent_purpose_versions SET description = 'Something else entirely.'",
                    "TRUNCATE consent_purpose_versions CASCADE",
                ] {
                    let error = try await #require(throws: PostgresError.self, "\(statement)") { try await owner.execute(statement) }
                    #expect(error.sqlState == "23001", "\(statement)")
                }
            }
            #expect(try await historyCount(fixture.pool, lead: leadID) == 1)
        }
    }

    @Test func onlyTheTransactionThatWritesTheTombstoneMayEraseAPersonsHistory() async throws {
        try await StaffFixture.withApp { fixture, client in
            let newsletter = try await purpose(client, key: fixture.adminKey)
            let erased = try await lead(client, key: fixture.adminKey)
            let other = try await lead(client, key: fixture.adminKey, #"{"name": "Grace Hopper"}"#)
            for person in [erased, other] {
                try await decide(client, key: fixture.adminKey, person: "/v1/leads/\(person)", purpose: newsletter, "give")
            }
            // A tombstone written earlier, in a transaction of its own, opens nothing later...
            try await fixture.pool.execute(
                "INSERT INTO erasure_tombstones (subject_type, subject_id, erasing_xact) VALUES ('lead', $1::uuid, '1')", [other]
            )
            let late = try await #require(throws: PostgresError.self) {
                try await fixture.pool.execute("DELETE FROM leads WHERE id = $1::uuid", [other])
            }
            #expect(late.sqlState == "23001")
            // ...nor does one for somebody else; the transaction that writes the person's own may.
            let wrongPerson = try await #require(throws: PostgresError.self) {
                try await fixture.pool.transaction { transaction in
                    try await transaction.execute(
                        "INSERT INTO erasure_tombstones (subject_type, subject_id) VALUES ('lead', $1::uuid)", [erased])
                    try await transaction.execute("DELETE FROM leads WHERE id = $1::uuid", [other])
                }
            }
            #expect(wrongPerson.sqlState == "23001")
            try await fixture.pool.transaction { transaction in
                try await transaction.execute(
                    "INSERT INTO erasure_tombstones (subject_type, subject_id) VALUES ('lead', $1::uuid)", [erased])
                try await transaction.execute("DELETE FROM leads WHERE id = $1::uuid", [erased])
            }
            #expect(try await historyCount(fixture.pool, lead: erased) == 0)
            #expect(try await historyCount(fixture.pool, lead: other) == 1)
            // Tombstones stay: the API's role can neither change nor remove them.
            for statement in ["DELETE FROM erasure_tombstones", "UPDATE erasure_tombstones SET erased_at = now()"] {
                let error = try await #require(throws: PostgresError.self) { try await fixture.pool.execute(statement) }
                #expect(error.sqlState == "42501")
            }
        }
    }

    @Test func aChangedPurposeTextBreaksTheChain() async throws {
        try await StaffFixture.withApp { fixture, client in
            let newsletter = try await purpose(client, key: fixture.adminKey)
            let person = "/v1/leads/" + (try await lead(client, key: fixture.adminKey))
            let record = try await decide(client, key: fixture.adminKey, person: person, purpose: newsletter, "give")
            #expect(record["hash_version"] as? Int == 2)
            #expect((record["purpose_text_hash"] as? String)?.count == 64)
            try await fixture.tamper(
                "UPDATE consent_purpose_versions SET description = 'We may sell your address.'",
                bypassing: "consent_purpose_versions_immutable", on: "consent_purpose_versions"
            )
            let verdict = try await client.send(.get, person + "/consents/verify", headers: headers(key: fixture.adminKey)).json()
            #expect(verdict["intact"] as? Bool == false)
            #expect(verdict["first_broken_seq"] as? Int == 1)
        }
    }

    @Test func aSignedReceiptShowsRecordsRemovedFromTheEnd() async throws {
        try await StaffFixture.withApp { fixture, client in
            let newsletter = try await purpose(client, key: fixture.adminKey)
            let person = "/v1/leads/" + (try await lead(client, key: fixture.adminKey))
            for action in ["give", "withdraw", "give"] {
                try await decide(client, key: fixture.adminKey, person: person, purpose: newsletter, action)
            }
            let overview = try await client.send(.get, person + "/consents", headers: headers(key: fixture.adminKey)).json()
            let receipt = try #require(overview["receipt"] as? [String: Any])
            let head = try #require(overview["chain_head"] as? [String: Any])
            #expect(receipt["seq"] as? Int == 3)
            #expect(receipt["hash"] as? String == head["hash"] as? String)

            // Anyone can check the signature with the published key.
            let keys = try await client.send(.get, "/v1/public/keys").json()["keys"] as? [[String: Any]] ?? []
            let published = try #require(keys.first { $0["key_id"] as? String == receipt["key_id"] as? String })
            let publicKeyText = try #require(published["public_key"] as? String)
            let publicKey = try Curve25519.Signing.PublicKey(rawRepresentation: try #require(Data(base64URLEncoded: publicKeyText)))
            let message = [
                receipt["format"] as? String, (receipt["seq"] as? Int).map(String.init), receipt["hash"] as? String,
                receipt["issued_at"] as? String,
            ]
            .compactMap { $0 }.joined(separator: "\n")
            let signatureText = try #require(receipt["signature"] as? String)
            let signature = try #require(Data(base64URLEncoded: signatureText))
            #expect(publicKey.isValidSignature(signature, for: Data(message.utf8)))
            #expect(!publicKey.isValidSignature(signature, for: Data(message.replacingOccurrences(of: "\n3\n", with: "\n2\n").utf8)))

            let check = "\(person)/consents/verify?receipt=3:\(receipt["hash"] as? String ?? "")"
            #expect(try await client.send(.get, check, headers: headers(key: fixture.adminKey)).json()["receipt_matches"] as? Bool == true)

            // Somebody with the owner's powers removes the newest record: the chain alone still
            // looks whole; the receipt does not match any more.
            try await fixture.tamper(
                "DELETE FROM consent_records WHERE seq = 3", bypassing: "consent_records_erasure_only", on: "consent_records"
            )
            let plain = try await client.send(.get, person + "/consents/verify", headers: headers(key: fixture.adminKey)).json()
            #expect(plain["intact"] as? Bool == true)
            let verdict = try await client.send(.get, check, headers: headers(key: fixture.adminKey)).json()
            #expect(verdict["receipt_matches"] as? Bool == false)
            #expect((verdict["chain_head"] as? [String: Any])?["seq"] as? Int == 2)

            for malformed in ["3", "0:\(receipt["hash"] as? String ?? "")", "3:abc", "-3:\(String(repeating: "a", count: 64))"] {
                let response = try await client.send(
                    .get, "\(person)/consents/verify?receipt=\(malformed)", headers: headers(key: fixture.adminKey))
                #expect(response.status == .unprocessableContent, "\(malformed)")
            }
        }
    }

    @Test func decisionsThroughALinkNameTheLinkAndWhoIssuedIt() async throws {
        try await StaffFixture.withApp { fixture, client in
            let newsletter = try await purpose(client, key: fixture.adminKey)
            let leadID = try await lead(client, key: fixture.adminKey)
            let staff = try await fixture.key(role: .staff, name: "Sam Staff")
            let issued = try await client.send(.post, "/v1/leads/\(leadID)/consent-link", headers: headers(key: staff)).json()
            let linkID = try #require(issued["link_id"] as? String)
            let token = String(try #require((issued["url"] as? String)?.split(separator: "/").last))
            let decided = try await client.send(
                .post, "/v1/public/consent/\(token)", headers: headers(key: nil, json: true),
                body: #"{"decisions": [{"purpose_id": "\#(newsletter)", "action": "give"}]}"#
            )
            #expect(decided.status == .ok)
            #expect((try decided.json()["receipt"] as? [String: Any])?["seq"] as? Int == 1)
            let history = try await client.send(.get, "/v1/leads/\(leadID)/consents", headers: headers(key: fixture.adminKey)).json()
            let record = try #require((history["history"] as? [[String: Any]])?.first)
            #expect(record["channel"] as? String == "consent_link")
            #expect(record["link_id"] as? String == linkID)
            let links = try await client.send(.get, "/v1/leads/\(leadID)/consent-link-history", headers: headers(key: fixture.adminKey))
                .json()
            let link = try #require((links["data"] as? [[String: Any]])?.first)
            #expect(link["id"] as? String == linkID)
            #expect(link["state"] as? String == "live")
            let staffID: String = try await fixture.pool.query("SELECT id::text FROM staff WHERE name = 'Sam Staff'").single().decode("id")
            #expect(link["created_by"] as? String == staffID)
            // Nobody can claim the link channel without naming a link.
            let unnamed = try await #require(throws: PostgresError.self) {
                try await fixture.pool.execute(
                    """
                    INSERT INTO consent_records (lead_id, purpose_id, purpose_version, action, channel)
                    VALUES ($1::uuid, $2::uuid, 1, 'withdraw', 'consent_link')
                    """,
                    [leadID, newsletter]
                )
            }
            #expect(unnamed.sqlState == "23502")
        }
    }

    @Test func aConvertedLeadsLinkServesTheContactAndTheLeadLeavesMarketingLists() async throws {
        try await StaffFixture.withApp { fixture, client in
            let newsletter = try await purpose(client, key: fixture.adminKey)
            let leadID = try await lead(client, key: fixture.adminKey)
            let issued = try await client.send(.post, "/v1/leads/\(leadID)/consent-link", headers: headers(key: fixture.adminKey)).json()
            let token = String(try #require((issued["url"] as? String)?.split(separator: "/").last))
            try await decide(client, key: fixture.adminKey, person: "/v1/leads/\(leadID)", purpose: newsletter, "give")
            let conversion = try await client.send(.post, "/v1/leads/\(leadID)/convert", headers: headers(key: fixture.adminKey)).json()
            let contactID = try #require((conversion["contact"] as? [String: Any])?["id"] as? String)

            let consenters =
                try await client.send(.get, "/v1/consent-purposes/\(newsletter)/consenters", headers: headers(key: fixture.adminKey))
                .json()["data"] as? [[String: Any]] ?? []
            #expect(consenters.compactMap { $0["id"] as? String } == [contactID])

            // The person's link now speaks for the contact: one person, one state.
            let page = try await client.send(.get, "/v1/public/consent/\(token)")
            #expect(page.status == .ok)
            let withdrawn = try await client.send(
                .post, "/v1/public/consent/\(token)", headers: headers(key: nil, json: true),
                body: #"{"decisions": [{"purpose_id": "\#(newsletter)", "action": "withdraw"}]}"#
            )
            #expect(withdrawn.status == .ok)
            let contactHistory = try await client.send(.get, "/v1/contacts/\(contactID)/consents", headers: headers(key: fixture.adminKey))
                .json()
            #expect((contactHistory["history"] as? [[String: Any]])?.compactMap { $0["action"] as? String } == ["give", "withdraw"])
            #expect(try await historyCount(fixture.pool, lead: leadID) == 1)
            let after =
                try await client.send(.get, "/v1/consent-purposes/\(newsletter)/consenters", headers: headers(key: fixture.adminKey))
                .json()["data"] as? [Any] ?? []
            #expect(after.isEmpty)

            // The lead takes no decisions and no links any more.
            let record = try await client.send(
                .post, "/v1/leads/\(leadID)/consents", headers: headers(key: fixture.adminKey, json: true),
                body: #"{"purpose_id": "\#(newsletter)", "action": "give"}"#
            )
            #expect(record.status == .conflict)
            #expect(
                try await client.send(.post, "/v1/leads/\(leadID)/consent-link", headers: headers(key: fixture.adminKey)).status
                    == .conflict)
            let leadLinks = try await client.send(.get, "/v1/leads/\(leadID)/consent-link-history", headers: headers(key: fixture.adminKey))
                .json()
            #expect((leadLinks["data"] as? [[String: Any]])?.first?["end_reason"] as? String == "converted")
            let contactLinks = try await client.send(
                .get, "/v1/contacts/\(contactID)/consent-link-history", headers: headers(key: fixture.adminKey)
            ).json()
            #expect((contactLinks["data"] as? [[String: Any]])?.first?["state"] as? String == "live")
        }
    }

    @Test func noDecisionIsRecordedForAKindOfPersonWhoseConsentIsSwitchedOff() async throws {
        try await StaffFixture.withApp { fixture, client in
            let newsletter = try await purpose(client, key: fixture.adminKey)
            let leadID = try await lead(client, key: fixture.adminKey)
            let switched = try await client.send(
                .patch, "/v1/settings/consent", headers: headers(key: fixture.adminKey, json: true), body: #"{"leads_enabled": false}"#
            )
            #expect(switched.status == .ok)
            let refused = try await client.send(
                .post, "/v1/leads/\(leadID)/consents", headers: headers(key: fixture.adminKey, json: true),
                body: #"{"purpose_id": "\#(newsletter)", "action": "give"}"#
            )
            #expect(refused.status == .conflict)
            #expect(try await historyCount(fixture.pool, lead: leadID) == 0)
        }
    }

    @Test func linksExpireAfterNinetyDaysUnlessAnAdminSaysOtherwise() async throws {
        try await StaffFixture.withApp { fixture, client in
            let settings = try await client.send(.get, "/v1/settings/consent", headers: headers(key: fixture.adminKey)).json()
            #expect(settings["link_lifetime_days"] as? Int == 90)
            let leadID = try await lead(client, key: fixture.adminKey)
            let issued = try await client.send(.post, "/v1/leads/\(leadID)/consent-link", headers: headers(key: fixture.adminKey)).json()
            let expiresText = try #require(issued["expires_at"] as? String)
            let expires = try #require(RFC3339.date(from: expiresText))
            #expect(abs(expires.timeIntervalSinceNow - 90 * 86_400) < 3_600)
            let never = try await client.send(
                .patch, "/v1/settings/consent", headers: headers(key: fixture.adminKey, json: true), body: #"{"link_lifetime_days": null}"#
            )
            #expect(never.status == .ok)
            let endless = try await client.send(.post, "/v1/leads/\(leadID)/consent-link", headers: headers(key: fixture.adminKey)).json()
            #expect(endless["expires_at"] is NSNull)
        }
    }
}
