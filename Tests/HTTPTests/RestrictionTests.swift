import Foundation
import HTTPTypes
import Postgres
import TestSupport
import Testing

/// Restriction of processing (GDPR Art. 18): while a restriction is in force the person's data is
/// stored, not processed, and the database holds that for every path, not each route.
@Suite("Restriction: a restricted person is stored, not processed, wherever the change comes from")
struct RestrictionTests {
    static func lead(_ client: ContractClient, key: String, name: String, email: String) async throws -> String {
        try #require(try await client.create("/v1/leads", key: key, #"{"name": "\#(name)", "email": "\#(email)"}"#)["id"] as? String)
    }

    static func restrict(_ client: ContractClient, key: String, _ path: String, ground: String = "accuracy_contested") async throws
        -> String
    {
        let set = try await client.send(
            .post, path + "/restrictions", headers: headers(key: key, json: true),
            body: #"{"ground": "\#(ground)", "reason": "The person says the address is wrong."}"#)
        #expect(set.status == .created, "\(set.text)")
        let id = try #require(try set.json()["id"] as? String)
        #expect(set.headers[.location] == "/v1/restrictions/\(id)")
        return id
    }

    static func events(_ fixture: StaffFixture, of subject: String) async throws -> [String] {
        try await fixture.pool.query(
            "SELECT type FROM webhook_events WHERE subject_id = $1::uuid ORDER BY created_at, id", [subject]
        ).map { try $0.decode("type") }
    }

    @Test func everyChangeStaffMakeIsRefusedAndTheSingleReadStillWorks() async throws {
        try await StaffFixture.withApp { fixture, client in
            let key = try await fixture.key(role: .staff)
            let marker = SeededPerson.marker()
            let lead = try await Self.lead(client, key: key, name: "Rita \(marker)", email: "rita\(marker)@example.org")
            let purpose = try await client.createPurpose(key: fixture.adminKey, name: "News")
            let version = try await PortalTests.publishTerms(client, key: fixture.adminKey)
            let restriction = try await Self.restrict(client, key: key, "/v1/leads/\(lead)")
            #expect(try await client.send(.get, "/v1/restrictions/\(restriction)", headers: headers(key: key)).status == .ok)

            // Each way staff could process the person: 409 `restricted`, naming the restriction.
            let attempts: [(HTTPRequest.Method, String, String?)] = [
                (.patch, "/v1/leads/\(lead)", #"{"status": "contacted"}"#),
                (.delete, "/v1/leads/\(lead)", nil),
                (.post, "/v1/leads/\(lead)/convert", nil),
                (.post, "/v1/leads/\(lead)/notes", #"{"text": "Called again."}"#),
                (.post, "/v1/leads/\(lead)/consents", #"{"purpose_id": "\#(purpose)", "action": "give"}"#),
                (.post, "/v1/leads/\(lead)/consent-link", nil),
                (.post, "/v1/leads/\(lead)/policy-acceptances", #"{"kind": "terms", "version": \#(version), "language": "en"}"#),
            ]
            for (method, path, body) in attempts {
                let refused = try await client.send(method, path, headers: headers(key: key, json: body != nil), body: body)
                #expect(refused.status == .conflict, "\(method) \(path): \(refused.text)")
                let problem = try refused.json()
                #expect(problem["type"] as? String == "urn:custodian:problem:restricted", "\(method) \(path)")
                #expect(problem["restriction_id"] as? String == restriction, "\(method) \(path)")
            }
            // A second restriction while one is in force: 409.
            let again = try await client.send(
                .post, "/v1/leads/\(lead)/restrictions", headers: headers(key: key, json: true),
                body: #"{"ground": "legal_claims", "reason": "Again."}"#)
            #expect(again.status == .conflict)

            let read = try await client.send(.get, "/v1/leads/\(lead)", headers: headers(key: key))
            #expect(read.status == .ok && read.text.contains("Rita \(marker)"))
            let notes: Int = try await fixture.pool.query("SELECT count(*)::int AS n FROM lead_notes WHERE lead_id = $1::uuid", [lead])
                .single().decode("n")
            #expect(notes == 0)
            #expect(try await Self.events(fixture, of: lead) == ["subject.restricted"])
        }
    }

    @Test func contactsAndCustomersAreRestrictedAlike() async throws {
        try await StaffFixture.withApp { fixture, client in
            let key = try await fixture.key(role: .staff)
            let marker = SeededPerson.marker()
            let customer = try #require(
                try await client.create("/v1/customers", key: key, #"{"company": "Quill \#(marker)"}"#)["id"] as? String)
            let contact = try #require(
                try await client.create(
                    "/v1/contacts", key: key,
                    #"{"customer_id": "\#(customer)", "first_name": "Quinn", "last_name": "\#(marker)", "email": "quinn\#(marker)@example.org"}"#
                )["id"] as? String)
            for path in ["/v1/customers/\(customer)", "/v1/contacts/\(contact)"] {
                let restriction = try await Self.restrict(client, key: key, path, ground: "unlawful_processing")
                let refused = try await client.send(.patch, path, headers: headers(key: key, json: true), body: #"{"active": false}"#)
                let named = try refused.json()["restriction_id"] as? String
                #expect(refused.status == .conflict && named == restriction, "\(path)")
                let history = try await client.send(.get, path + "/restrictions", headers: headers(key: key))
                #expect((try history.json()["data"] as? [[String: Any]])?.first?["id"] as? String == restriction)
            }
            // A contact of a restricted customer is a person of their own: not restricted by it.
            let sibling = try #require(
                try await client.create(
                    "/v1/contacts", key: key,
                    #"{"customer_id": "\#(customer)", "first_name": "Sam", "last_name": "\#(marker)", "email": "sam\#(marker)@example.org"}"#
                )["id"] as? String)
            #expect(
                try await client.send(.patch, "/v1/contacts/\(sibling)", headers: headers(key: key, json: true), body: #"{"title": "CFO"}"#)
                    .status == .ok)
        }
    }

    @Test func listsSearchesAndConsentersLeaveThePersonOutUnlessAnAdminAsks() async throws {
        try await StaffFixture.withApp { fixture, client in
            let key = try await fixture.key(role: .staff)
            let marker = SeededPerson.marker()
            let restricted = try await Self.lead(client, key: key, name: "Ruth \(marker)", email: "ruth\(marker)@example.org")
            let other = try await Self.lead(client, key: key, name: "Omar \(marker)", email: "omar\(marker)@example.org")
            let purpose = try await client.createPurpose(key: fixture.adminKey, name: "News")
            for lead in [restricted, other] {
                _ = try await client.create("/v1/leads/\(lead)/consents", key: key, #"{"purpose_id": "\#(purpose)", "action": "give"}"#)
            }
            func listed(_ query: String, key: String) async throws -> [String] {
                let page = try await client.send(.get, "/v1/leads?\(query)", headers: headers(key: key))
                #expect(page.status == .ok, "\(page.text)")
                return (try page.json()["data"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }.sorted()
            }
            func consenters() async throws -> [String] {
                let page = try await client.send(.get, "/v1/consent-purposes/\(purpose)/consenters", headers: headers(key: key))
                return (try page.json()["data"] as? [[String: Any]] ?? []).compactMap { $0["person_id"] as? String ?? $0["id"] as? String }
            }
            #expect(try await listed("q=\(marker)", key: key) == [restricted, other].sorted())
            #expect(try await consenters().contains(restricted))

            _ = try await Self.restrict(client, key: key, "/v1/leads/\(restricted)")
            #expect(try await listed("q=\(marker)", key: key) == [other])
            #expect(try await listed("limit=200", key: key).contains(restricted) == false)
            #expect(try await !consenters().contains(restricted))
            #expect(try await consenters().contains(other))
            let notAdmin = try await client.send(.get, "/v1/leads?include_restricted=true", headers: headers(key: key))
            #expect(notAdmin.status == .forbidden)
            #expect(try await listed("q=\(marker)&include_restricted=true", key: fixture.adminKey) == [restricted, other].sorted())
        }
    }

    @Test func feedsSayRestrictedAndSendTheRecordAgainWhenLiftedAfterThePersonIsTold() async throws {
        try await StaffFixture.withApp { fixture, client in
            let key = try await fixture.key(role: .staff)
            let marker = SeededPerson.marker()
            let lead = try await Self.lead(client, key: key, name: "Lena \(marker)", email: "lena\(marker)@example.org")
            var reader = FeedReader("leads", key: try await fixture.key(role: .integration))
            try await reader.poll(client)
            #expect(reader.copy[lead] != nil)

            let before = try await client.send(.get, "/v1/leads/\(lead)", headers: headers(key: key))
            let restriction = try await Self.restrict(client, key: key, "/v1/leads/\(lead)")
            // Restricting changes no value of the record: the same revision, the same answer.
            let after = try await client.send(.get, "/v1/leads/\(lead)", headers: headers(key: key))
            #expect(after.headers[.eTag] == before.headers[.eTag] && after.text == before.text)
            let stop = try await reader.poll(client)
            #expect(FeedTests.ops(stop).contains("restricted \(lead)"))
            #expect(reader.copy[lead] == nil)
            // A snapshot taken now leaves the person out.
            var fresh = FeedReader("leads", key: reader.key)
            try await fresh.poll(client)
            #expect(fresh.copy[lead] == nil)

            let lift = try await client.send(
                .post, "/v1/restrictions/\(restriction)/lift", headers: headers(key: key, json: true),
                body: #"{"reason": "The address was checked and corrected."}"#)
            #expect(lift.status == .ok, "\(lift.text)")
            #expect(try lift.json()["in_force"] as? Bool == false)
            let resume = try await reader.poll(client)
            #expect(FeedTests.ops(resume).contains("upsert \(lead)"))
            #expect(reader.copy[lead] != nil)
            let liftedAgain = try await client.send(
                .post, "/v1/restrictions/\(restriction)/lift", headers: headers(key: key, json: true), body: #"{"reason": "Again."}"#)
            #expect(liftedAgain.status == .conflict)

            // Told before processing resumes: the notice, with the address, in the lifting's transaction.
            #expect(
                try await Self.events(fixture, of: lead).sorted()
                    == ["person.restriction_lifted", "subject.restricted", "subject.restriction_lifted"])
            let transactions: Int = try await fixture.pool.query(
                """
                SELECT count(DISTINCT created_at)::int AS n FROM webhook_events
                WHERE subject_id = $1::uuid AND type IN ('person.restriction_lifted', 'subject.restriction_lifted')
                """, [lead]
            ).single().decode("n")
            #expect(transactions == 1)
            let notice: String = try await fixture.pool.query(
                "SELECT payload::text AS p FROM webhook_events WHERE type = 'person.restriction_lifted' AND subject_id = $1::uuid", [lead]
            ).single().decode("p")
            #expect(notice.contains("lena\(marker)@example.org") && notice.contains("accuracy_contested"))

            // Processing resumes; the history stays, so the record goes only with an erasure.
            #expect(
                try await client.send(
                    .patch, "/v1/leads/\(lead)", headers: headers(key: key, json: true), body: #"{"status": "contacted"}"#
                )
                .status == .ok)
            let history = try await client.send(.get, "/v1/leads/\(lead)/restrictions", headers: headers(key: key))
            #expect((try history.json()["data"] as? [[String: Any]])?.count == 1)
            #expect(try await client.send(.delete, "/v1/leads/\(lead)", headers: headers(key: key)).status == .conflict)
            await #expect(throws: PostgresError.self) {
                try await fixture.pool.execute("UPDATE restrictions SET reason = 'rewritten' WHERE id = $1::uuid", [restriction])
            }
        }
    }

    @Test func thePersonStillCorrectsAndDecidesThroughTheirOwnLinkAndSeesTheRestriction() async throws {
        try await StaffFixture.withApp { fixture, client in
            let key = try await fixture.key(role: .staff)
            let marker = SeededPerson.marker()
            let lead = try await Self.lead(client, key: key, name: "Paula \(marker)", email: "paula\(marker)@example.org")
            let purpose = try await client.createPurpose(key: fixture.adminKey, name: "News")
            _ = try await client.send(
                .patch, "/v1/settings/privacy", headers: headers(key: fixture.adminKey, json: true),
                body: #"{"lead_correctable": ["phone"]}"#)
            let link = try await client.send(.post, "/v1/leads/\(lead)/consent-link", headers: headers(key: key))
            let token = try #require((try link.json()["url"] as? String)?.split(separator: "/").last.map(String.init))
            _ = try await Self.restrict(client, key: key, "/v1/leads/\(lead)", ground: "legal_claims")

            let corrected = try await client.send(
                .patch, "/v1/public/people/\(token)", headers: headers(key: nil, json: true), body: #"{"phone": "+49 30 1234"}"#)
            #expect(corrected.status == .ok, "\(corrected.text)")
            let centre = try corrected.json()
            #expect((centre["restriction"] as? [String: Any])?["ground"] as? String == "legal_claims")
            let decided = try await client.send(
                .post, "/v1/public/consent/\(token)", headers: headers(key: nil, json: true),
                body: #"{"decisions": [{"purpose_id": "\#(purpose)", "action": "give"}]}"#)
            #expect(decided.status == .ok, "\(decided.text)")
            let export = try await client.send(.get, "/v1/public/people/\(token)/export", headers: headers(key: nil))
            #expect(export.status == .ok && export.text.contains("legal_claims"))
            let page = try await client.send(.get, "/p/\(token)?lang=en", headers: headers(key: nil))
            #expect(page.text.contains("id=\"restriction\"") && page.text.contains("legal claims"))
        }
    }

    @Test func completingARestrictionCaseRestrictsOnItsGroundAndAnErasureStillErases() async throws {
        try await StaffFixture.withApp { fixture, client in
            let key = fixture.adminKey
            let marker = SeededPerson.marker()
            let customer = try #require(
                try await client.create("/v1/customers", key: key, #"{"company": "Acme \#(marker)"}"#)["id"] as? String)
            let contact = try #require(
                try await client.create(
                    "/v1/contacts", key: key,
                    #"{"customer_id": "\#(customer)", "first_name": "Cora", "last_name": "\#(marker)", "email": "cora\#(marker)@example.org"}"#
                )["id"] as? String)
            let opened = try await client.create(
                "/v1/requests", key: key,
                #"{"kind": "restriction", "subject_type": "contact", "subject_id": "\#(contact)", "channel": "email", "verification_method": "email_confirmation"}"#
            )
            let caseID = try #require(opened["id"] as? String)
            let withoutGround = try await client.send(
                .patch, "/v1/requests/\(caseID)", headers: headers(key: key, json: true),
                body: #"{"status": "completed", "resolution": "Restricted while the address is checked."}"#)
            #expect(withoutGround.status == .unprocessableContent)
            #expect(withoutGround.text.contains("restriction_ground"))
            let completed = try await client.send(
                .patch, "/v1/requests/\(caseID)", headers: headers(key: key, json: true),
                body:
                    #"{"status": "completed", "resolution": "Restricted while the address is checked.", "restriction_ground": "accuracy_contested"}"#
            )
            #expect(completed.status == .ok, "\(completed.text)")
            #expect(try completed.json()["restriction_ground"] as? String == "accuracy_contested")
            let history = try await client.send(.get, "/v1/contacts/\(contact)/restrictions", headers: headers(key: key))
            let restriction = try #require((try history.json()["data"] as? [[String: Any]])?.first)
            #expect(restriction["request_id"] as? String == caseID && restriction["in_force"] as? Bool == true)

            // Erasure is the person's right whatever else holds: a restricted contact is erased whole.
            let erasure = try #require(
                try await client.create(
                    "/v1/requests", key: key,
                    #"{"kind": "erasure", "subject_type": "contact", "subject_id": "\#(contact)", "channel": "email", "verification_method": "email_confirmation"}"#
                )["id"] as? String)
            _ = try await client.send(
                .patch, "/v1/requests/\(erasure)", headers: headers(key: key, json: true), body: #"{"status": "in_progress"}"#)
            let erased = try await client.send(.post, "/v1/requests/\(erasure)/erase", headers: headers(key: key))
            #expect(erased.status == .ok, "\(erased.text)")
            let left: Int = try await fixture.pool.query(
                "SELECT count(*)::int AS n FROM restrictions WHERE subject_id = $1::uuid", [contact]
            )
            .single().decode("n")
            #expect(left == 0)
        }
    }
    @Test func anObjectionRestrictsWhileStaffDecideAndTheDecisionLiftsIt() async throws {
        try await StaffFixture.withApp { fixture, client in
            let key = fixture.adminKey
            let marker = SeededPerson.marker()
            let lead = try await Self.lead(client, key: key, name: "Olga \(marker)", email: "olga\(marker)@example.org")
            let link = try await client.send(.post, "/v1/leads/\(lead)/consent-link", headers: headers(key: key))
            let token = try #require((try link.json()["url"] as? String)?.split(separator: "/").last.map(String.init))
            let filed = try await client.send(
                .post, "/v1/public/people/\(token)/requests", headers: headers(key: nil, json: true),
                body: #"{"kind": "objection", "details": "I object to being profiled."}"#)
            #expect(filed.status == .created, "\(filed.text)")
            let caseID = try #require(try filed.json()["id"] as? String)

            let history = try await client.send(.get, "/v1/leads/\(lead)/restrictions", headers: headers(key: key))
            let pending = try #require((try history.json()["data"] as? [[String: Any]])?.first)
            #expect(pending["ground"] as? String == "objection_pending" && pending["request_id"] as? String == caseID)
            #expect(pending["in_force"] as? Bool == true && pending["set_by"] is NSNull)
            let refused = try await client.send(
                .patch, "/v1/leads/\(lead)", headers: headers(key: key, json: true), body: #"{"status": "contacted"}"#)
            #expect(refused.status == .conflict)

            // Staff decide; the decision is the reason the pending restriction ends.
            let decided = try await client.send(
                .patch, "/v1/requests/\(caseID)", headers: headers(key: key, json: true),
                body: #"{"status": "refused", "refusal_code": "other", "refusal_reason": "Compelling legitimate grounds override."}"#)
            #expect(decided.status == .ok, "\(decided.text)")
            let lifted = try await client.send(
                .get, "/v1/restrictions/\(try #require(pending["id"] as? String))", headers: headers(key: key))
            #expect(try lifted.json()["lift_reason"] as? String == "Compelling legitimate grounds override.")
            #expect(
                try await client.send(
                    .patch, "/v1/leads/\(lead)", headers: headers(key: key, json: true), body: #"{"status": "contacted"}"#
                )
                .status == .ok)
        }
    }
}
