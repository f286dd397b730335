import CustodianCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

@Suite("Consent: versioned purposes and an append-only, hash-chained history")
struct ConsentTests {
    private func purpose(_ client: ContractClient, key: String, name: String = "Newsletter", appliesTo: String = "both") async throws
        -> String
    {
        try await client.createPurpose(key: key, name: name, description: "Monthly product news by email.", appliesTo: appliesTo)
    }

    private func decide(_ client: ContractClient, key: String, person: String, purpose: String, _ action: String, note: String = "by phone")
        async throws -> [String: Any]
    {
        try await client.create(
            person + "/consents", key: key, #"{"purpose_id": "\#(purpose)", "action": "\#(action)", "note": "\#(note)"}"#)
    }

    private func states(_ client: ContractClient, key: String, person: String) async throws -> [String: String] {
        let body = try await client.send(.get, person + "/consents", headers: headers(key: key)).json()
        var states: [String: String] = [:]
        for entry in body["purposes"] as? [[String: Any]] ?? [] {
            if let id = entry["purpose_id"] as? String, let state = entry["state"] as? String { states[id] = state }
        }
        return states
    }

    @Test func giveWithdrawGiveYieldsTheLatestStatePerPurpose() async throws {
        try await StaffFixture.withApp { fixture, client in
            let newsletter = try await purpose(client, key: fixture.adminKey)
            let events = try await purpose(client, key: fixture.adminKey, name: "Event invitations")
            let staff = try await fixture.key(role: .staff)
            let lead = "/v1/leads/" + (try #require(try await client.create("/v1/leads", key: staff, #"{"name": "Ada"}"#)["id"] as? String))
            #expect(try await states(client, key: staff, person: lead) == [newsletter: "not_asked", events: "not_asked"])
            _ = try await decide(client, key: staff, person: lead, purpose: newsletter, "give")
            _ = try await decide(client, key: staff, person: lead, purpose: newsletter, "withdraw")
            #expect(try await states(client, key: staff, person: lead)[newsletter] == "withdrawn")
            let record = try await decide(client, key: staff, person: lead, purpose: newsletter, "give", note: "asked again at the fair")
            #expect(record["seq"] as? Int == 3)
            #expect(record["channel"] as? String == "staff")
            #expect(record["note"] as? String == "asked again at the fair")
            #expect(try await states(client, key: staff, person: lead) == [newsletter: "given", events: "not_asked"])

            let history =
                try await client.send(.get, lead + "/consents", headers: headers(key: staff)).json()["history"] as? [[String: Any]]
            #expect(history?.compactMap { $0["action"] as? String } == ["give", "withdraw", "give"])
            let verdict = try await client.send(.get, lead + "/consents/verify", headers: headers(key: staff)).json()
            #expect(verdict["intact"] as? Bool == true)
            #expect(verdict["records"] as? Int == 3)
        }
    }

    @Test func theHistoryComesPageByPageAndTheHeadCoversTheWholeChain() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            let newsletter = try await purpose(client, key: admin)
            let lead = "/v1/leads/" + (try #require(try await client.create("/v1/leads", key: admin, #"{"name": "Ada"}"#)["id"] as? String))
            let other = "/v1/leads/" + (try #require(try await client.create("/v1/leads", key: admin, #"{"name": "Bo"}"#)["id"] as? String))
            for action in ["give", "withdraw", "give", "withdraw", "give"] {
                _ = try await decide(client, key: admin, person: lead, purpose: newsletter, action)
            }
            _ = try await decide(client, key: admin, person: other, purpose: newsletter, "give")

            var seqs: [Int] = []
            var cursor: String?
            var pages = 0
            repeat {
                let page = try await client.send(
                    .get, lead + "/consents?limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""), headers: headers(key: admin)
                ).json()
                seqs += (page["history"] as? [[String: Any]] ?? []).compactMap { $0["seq"] as? Int }
                #expect((page["chain_head"] as? [String: Any])?["seq"] as? Int == 5)
                #expect((page["purposes"] as? [[String: Any]])?.first?["state"] as? String == "given")
                cursor = page["next_cursor"] as? String
                pages += 1
            } while cursor != nil && pages < 10
            #expect(seqs == [1, 2, 3, 4, 5])
            #expect(pages == 3)

            // A cursor is a position in the chain: the one from another person's page is a position
            // in this chain too; garbage is refused.
            let others = try await client.send(.get, other + "/consents?limit=1", headers: headers(key: admin)).json()
            #expect(others["next_cursor"] is NSNull)
            let afterThree = Cursor(createdAtMicroseconds: 3, id: UUID()).token
            let rest = try await client.send(.get, lead + "/consents?cursor=\(afterThree)", headers: headers(key: admin)).json()
            #expect((rest["history"] as? [[String: Any]])?.compactMap { $0["seq"] as? Int } == [4, 5])
            let refused = try await client.send(.get, lead + "/consents?cursor=bm90LWEtY3Vyc29y", headers: headers(key: admin))
            #expect(refused.status == .badRequest)
            let tooMany = try await client.send(.get, lead + "/consents?limit=201", headers: headers(key: admin))
            #expect(tooMany.status == .unprocessableContent)
        }
    }

    @Test func editingAPurposeAddsAVersionAndRetiringKeepsHistory() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            let newsletter = try await purpose(client, key: admin)
            let contactCustomer = try #require(
                try await client.create("/v1/customers", key: admin, #"{"company": "Acme"}"#)["id"] as? String)
            let contact =
                "/v1/contacts/"
                + (try #require(
                    try await client.create(
                        "/v1/contacts", key: admin,
                        #"{"customer_id": "\#(contactCustomer)", "first_name": "Kim", "last_name": "Ng", "email": "kim@example.org"}"#
                    )["id"] as? String))
            _ = try await decide(client, key: admin, person: contact, purpose: newsletter, "give")

            let edited = try await client.send(
                .patch, "/v1/consent-purposes/\(newsletter)", headers: headers(key: admin, json: true),
                body: #"{"description": "Weekly product news by email."}"#
            )
            #expect(edited.status == .ok)
            let body = try edited.json()
            #expect(body["version"] as? Int == 2)
            #expect(
                (body["versions"] as? [[String: Any]])?.compactMap { $0["description"] as? String }
                    == ["Monthly product news by email.", "Weekly product news by email."])
            let second = try await decide(client, key: admin, person: contact, purpose: newsletter, "withdraw")
            #expect(second["purpose_version"] as? Int == 2)

            let deleted = try await client.send(.delete, "/v1/consent-purposes/\(newsletter)", headers: headers(key: admin))
            #expect(deleted.status == .conflict)
            let retired = try await client.send(
                .patch, "/v1/consent-purposes/\(newsletter)", headers: headers(key: admin, json: true), body: #"{"active": false}"#
            )
            #expect(try retired.json()["active"] as? Bool == false)
            let refused = try await client.send(
                .post, contact + "/consents", headers: headers(key: admin, json: true),
                body: #"{"purpose_id": "\#(newsletter)", "action": "give"}"#
            )
            #expect(refused.status == .unprocessableContent)
            let history = try await client.send(.get, contact + "/consents", headers: headers(key: admin)).json()
            #expect((history["history"] as? [[String: Any]])?.compactMap { $0["purpose_version"] as? Int } == [1, 2])
            #expect((history["purposes"] as? [[String: Any]])?.first?["state"] as? String == "withdrawn")

            let unused = try await purpose(client, key: admin, name: "Unused")
            #expect(try await client.send(.delete, "/v1/consent-purposes/\(unused)", headers: headers(key: admin)).status == .noContent)
        }
    }

    @Test func aRowAlteredBehindTheAPIsBackIsDetected() async throws {
        try await StaffFixture.withApp { fixture, client in
            let newsletter = try await purpose(client, key: fixture.adminKey)
            let lead =
                "/v1/leads/"
                + (try #require(try await client.create("/v1/leads", key: fixture.adminKey, #"{"name": "Ada"}"#)["id"] as? String))
            for action in ["give", "withdraw", "give", "withdraw"] {
                _ = try await decide(client, key: fixture.adminKey, person: lead, purpose: newsletter, action)
            }
            #expect(
                try await client.send(.get, lead + "/consents/verify", headers: headers(key: fixture.adminKey)).json()["intact"] as? Bool
                    == true)
            // Only the table's owner (or a superuser) can switch a trigger off; the API's role cannot.
            try await fixture.tamper(
                "UPDATE consent_records SET action = 'give' WHERE seq = 2", bypassing: "consent_records_append_only", on: "consent_records"
            )
            let verdict = try await client.send(.get, lead + "/consents/verify", headers: headers(key: fixture.adminKey)).json()
            #expect(verdict["intact"] as? Bool == false)
            #expect(verdict["first_broken_seq"] as? Int == 2)
        }
    }

    @Test func concurrentDecisionsForOnePersonKeepTheChainIntact() async throws {
        try await StaffFixture.withApp { fixture, client in
            let newsletter = try await purpose(client, key: fixture.adminKey)
            let lead =
                "/v1/leads/"
                + (try #require(try await client.create("/v1/leads", key: fixture.adminKey, #"{"name": "Ada"}"#)["id"] as? String))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<20 {
                    group.addTask {
                        _ = try await decide(
                            client, key: fixture.adminKey, person: lead, purpose: newsletter, index % 2 == 0 ? "give" : "withdraw")
                    }
                }
                try await group.waitForAll()
            }
            let verdict = try await client.send(.get, lead + "/consents/verify", headers: headers(key: fixture.adminKey)).json()
            #expect(verdict["intact"] as? Bool == true)
            #expect(verdict["records"] as? Int == 20)
        }
    }

    @Test func conversionCarriesAVerifiableHistoryToTheContact() async throws {
        try await StaffFixture.withApp { fixture, client in
            let newsletter = try await purpose(client, key: fixture.adminKey)
            let leadID = try #require(
                try await client.create("/v1/leads", key: fixture.adminKey, #"{"name": "Ada Lovelace", "email": "ada@example.org"}"#)["id"]
                    as? String)
            _ = try await decide(client, key: fixture.adminKey, person: "/v1/leads/\(leadID)", purpose: newsletter, "give")
            _ = try await decide(client, key: fixture.adminKey, person: "/v1/leads/\(leadID)", purpose: newsletter, "withdraw")
            _ = try await decide(client, key: fixture.adminKey, person: "/v1/leads/\(leadID)", purpose: newsletter, "give")
            let conversion = try await client.send(.post, "/v1/leads/\(leadID)/convert", headers: headers(key: fixture.adminKey)).json()
            let contactID = try #require((conversion["contact"] as? [String: Any])?["id"] as? String)
            let contact = "/v1/contacts/\(contactID)"
            let history = try #require(
                try await client.send(.get, contact + "/consents", headers: headers(key: fixture.adminKey)).json()["history"]
                    as? [[String: Any]])
            #expect(history.compactMap { $0["action"] as? String } == ["give", "withdraw", "give"])
            #expect(history.allSatisfy { $0["carried_from"] is String })
            #expect(try await states(client, key: fixture.adminKey, person: contact)[newsletter] == "given")
            #expect(
                try await client.send(.get, contact + "/consents/verify", headers: headers(key: fixture.adminKey)).json()["intact"] as? Bool
                    == true)
            #expect(
                try await client.send(.get, "/v1/leads/\(leadID)/consents/verify", headers: headers(key: fixture.adminKey)).json()["intact"]
                    as? Bool == true)
        }
    }

    @Test func consenterPagesReadPastAnyNumberOfWithdrawalsAndWalkEveryoneInIdOrder() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            let newsletter = try await purpose(client, key: admin)
            var people: [String] = []
            for index in 0..<5 {
                let lead = try #require(try await client.create("/v1/leads", key: admin, #"{"name": "Lead \#(index)"}"#)["id"] as? String)
                _ = try await decide(client, key: admin, person: "/v1/leads/\(lead)", purpose: newsletter, "give")
                people.append(lead)
            }
            var walked: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let page = try await client.send(
                    .get, "/v1/consent-purposes/\(newsletter)/consenters?limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""),
                    headers: headers(key: admin)
                ).json()
                walked += (page["data"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                cursor = page["next_cursor"] as? String
                pages += 1
            } while cursor != nil && pages < 10
            #expect(walked == people.sorted())
            #expect(pages == 3)

            // A page of one, with only the last person (by id) still consenting: the reader must
            // go through several chunks of people who withdrew to find them.
            let sorted = people.sorted()
            for person in sorted.dropLast() {
                _ = try await decide(client, key: admin, person: "/v1/leads/\(person)", purpose: newsletter, "withdraw")
            }
            let only = try await client.send(
                .get, "/v1/consent-purposes/\(newsletter)/consenters?limit=1", headers: headers(key: admin)
            ).json()
            #expect((only["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [try #require(sorted.last)])
            #expect(only["next_cursor"] is NSNull)
        }
    }

    @Test func consentersLeaveOutWhoeverWithdrew() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            let newsletter = try await purpose(client, key: admin)
            let leadsOnly = try await purpose(client, key: admin, name: "Lead nurturing", appliesTo: "leads")
            var people: [String] = []
            for name in ["Ada", "Grace", "Alan"] {
                people.append(
                    try #require(
                        try await client.create(
                            "/v1/leads", key: admin, #"{"name": "\#(name)", "email": "\#(name.lowercased())@example.org"}"#)["id"]
                            as? String))
            }
            for person in people { _ = try await decide(client, key: admin, person: "/v1/leads/\(person)", purpose: newsletter, "give") }
            _ = try await decide(client, key: admin, person: "/v1/leads/\(people[1])", purpose: newsletter, "withdraw")
            let page = try await client.send(.get, "/v1/consent-purposes/\(newsletter)/consenters?limit=1", headers: headers(key: admin))
                .json()
            var names = (page["data"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            let cursor = try #require(page["next_cursor"] as? String)
            let rest = try await client.send(
                .get, "/v1/consent-purposes/\(newsletter)/consenters?cursor=\(cursor)", headers: headers(key: admin)
            ).json()
            names += (rest["data"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            #expect(Set(names) == ["Ada", "Alan"])

            let acme = try #require(try await client.create("/v1/customers", key: admin, #"{"company": "Acme"}"#)["id"] as? String)
            let contact = try #require(
                try await client.create(
                    "/v1/contacts", key: admin,
                    #"{"customer_id": "\#(acme)", "first_name": "K", "last_name": "N", "email": "k@example.org"}"#
                )["id"] as? String)
            let wrongKind = try await client.send(
                .post, "/v1/contacts/\(contact)/consents", headers: headers(key: admin, json: true),
                body: #"{"purpose_id": "\#(leadsOnly)", "action": "give"}"#
            )
            #expect(wrongKind.status == .unprocessableContent)
            #expect(try await client.send(.get, "/v1/leads/\(UUID())/consents", headers: headers(key: admin)).status == .notFound)
            let readonly = try await fixture.key(role: .readonly)
            let forbidden = try await client.send(
                .post, "/v1/leads/\(people[0])/consents", headers: headers(key: readonly, json: true),
                body: #"{"purpose_id": "\#(newsletter)", "action": "give"}"#
            )
            #expect(forbidden.status == .forbidden)
        }
    }
}
