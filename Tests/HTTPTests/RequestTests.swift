import CustodianCore
import CustodianHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

@Suite("Request cases: the legal clock, forward-only status, the person's own filing")
struct RequestTests {
    private func lead(_ client: ContractClient, key: String, name: String = "Ada Lovelace") async throws -> String {
        try #require(
            try await client.create("/v1/leads", key: key, #"{"name": "\#(name)", "email": "\#(UUID())@example.org"}"#)["id"] as? String)
    }

    private func open(_ client: ContractClient, key: String, lead: String, kind: String = "access", receivedAt: String? = nil)
        async throws -> [String: Any]
    {
        let received = receivedAt.map { #", "received_at": "\#($0)""# } ?? ""
        return try await client.create(
            "/v1/requests", key: key,
            #"{"kind": "\#(kind)", "subject_type": "lead", "subject_id": "\#(lead)", "channel": "letter", "details": "Please send me everything."\#(received)}"#
        )
    }

    private func patch(_ client: ContractClient, key: String, id: String, _ body: String) async throws -> TestResponse {
        try await client.send(.patch, "/v1/requests/\(id)", headers: headers(key: key, json: true), body: body)
    }

    @Test func dueOneCalendarMonthAfterReceiptWithMonthEndsFallingBack() async throws {
        try await StaffFixture.withApp { fixture, client in
            let person = try await lead(client, key: fixture.adminKey)
            for (received, due) in [
                ("2026-01-31T10:00:00Z", "2026-02-28T10:00:00.000Z"),
                ("2024-01-31T10:00:00Z", "2024-02-29T10:00:00.000Z"),
                ("2026-03-31T23:30:00Z", "2026-04-30T23:30:00.000Z"),
                ("2025-12-15T08:00:00+02:00", "2026-01-15T06:00:00.000Z"),
            ] {
                let opened = try await open(client, key: fixture.adminKey, lead: person, receivedAt: received)
                #expect(opened["due_at"] as? String == due, "\(received)")
                #expect(opened["status"] as? String == "received")
            }
            let future = try await client.send(
                .post, "/v1/requests", headers: headers(key: fixture.adminKey, json: true),
                body: #"{"kind": "access", "subject_type": "lead", "subject_id": "\#(person)", "received_at": "2999-01-01T00:00:00Z"}"#
            )
            #expect(future.status == .unprocessableContent)
            // Null means not verified, as leaving it out does.
            let unverified = try await client.create(
                "/v1/requests", key: fixture.adminKey,
                #"{"kind": "access", "subject_type": "lead", "subject_id": "\#(person)", "verification_method": null}"#)
            #expect(unverified["verified_at"] is NSNull)
        }
    }

    @Test func oneExtensionOfUpToTwoMonthsWithAReason() async throws {
        try await StaffFixture.withApp { fixture, client in
            let person = try await lead(client, key: fixture.adminKey)
            let id = try #require(
                try await open(client, key: fixture.adminKey, lead: person, receivedAt: "2026-01-31T10:00:00Z")["id"] as? String)
            #expect(try await patch(client, key: fixture.adminKey, id: id, #"{"extend_months": 2}"#).status == .unprocessableContent)
            #expect(
                try await patch(client, key: fixture.adminKey, id: id, #"{"extend_months": 3, "extension_reason": "complex"}"#).status
                    == .unprocessableContent)
            let extended = try await patch(
                client, key: fixture.adminKey, id: id,
                #"{"extend_months": 2, "extension_reason": "Many systems to search.", "extension_notified_at": "2026-02-10T09:00:00Z"}"#
            )
            #expect(extended.status == .ok)
            let body = try extended.json()
            #expect(body["due_at"] as? String == "2026-04-30T10:00:00.000Z")
            #expect(body["extension_months"] as? Int == 2)
            let again = try await patch(client, key: fixture.adminKey, id: id, #"{"extend_months": 1, "extension_reason": "more"}"#)
            #expect(again.status == .unprocessableContent)
            let history = try #require(body["history"] as? [[String: Any]])
            let change = try #require(history.last?["changes"] as? [String: Any])
            #expect((change["due_at"] as? [String: Any])?["to"] as? String == "2026-04-30T10:00:00.000Z")
            // Free texts are recorded as changed, never quoted.
            #expect((change["extension_reason"] as? [String: Any])?["changed"] as? Bool == true)
            #expect(!extended.text.contains("\"Many systems to search.\",\"from\""))
        }
    }

    @Test func statusMovesForwardOnlyAndClosingNeedsItsReasons() async throws {
        try await StaffFixture.withApp { fixture, client in
            let person = try await lead(client, key: fixture.adminKey)
            let id = try #require(try await open(client, key: fixture.adminKey, lead: person)["id"] as? String)
            #expect(try await patch(client, key: fixture.adminKey, id: id, #"{"status": "in_progress"}"#).status == .ok)
            #expect(try await patch(client, key: fixture.adminKey, id: id, #"{"status": "received"}"#).status == .unprocessableContent)
            #expect(try await patch(client, key: fixture.adminKey, id: id, #"{"status": "completed"}"#).status == .unprocessableContent)
            #expect(try await patch(client, key: fixture.adminKey, id: id, #"{"status": "refused"}"#).status == .unprocessableContent)
            #expect(
                try await patch(client, key: fixture.adminKey, id: id, #"{"status": "refused", "refusal_code": "excessive"}"#).status
                    == .unprocessableContent)
            let refused = try await patch(
                client, key: fixture.adminKey, id: id,
                #"{"status": "refused", "refusal_code": "manifestly_unfounded", "refusal_reason": "The fifth identical request this week."}"#
            )
            #expect(refused.status == .ok)
            #expect(try refused.json()["closed_at"] is String)
            for body in [#"{"status": "in_progress"}"#, #"{"status": "completed", "resolution": "x"}"#, #"{"resolution": "later"}"#] {
                #expect(try await patch(client, key: fixture.adminKey, id: id, body).status == .unprocessableContent, "\(body)")
            }

            let other = try #require(try await open(client, key: fixture.adminKey, lead: person)["id"] as? String)
            #expect(
                try await patch(
                    client, key: fixture.adminKey, id: other, #"{"status": "completed", "resolution": "Sent the data by post."}"#
                )
                .status == .unprocessableContent, "an access case's person is not verified yet")
            let completed = try await patch(
                client, key: fixture.adminKey, id: other,
                #"{"status": "completed", "resolution": "Sent the data by post.", "verification_method": "phone_callback"}"#
            )
            #expect(completed.status == .ok)
            let erasure = try #require(try await open(client, key: fixture.adminKey, lead: person, kind: "erasure")["id"] as? String)
            let byHand = try await patch(
                client, key: fixture.adminKey, id: erasure, #"{"status": "completed", "resolution": "deleted it"}"#)
            #expect(byHand.status == .unprocessableContent)
            // Readonly staff read cases but do not move them.
            let readonly = try await fixture.key(role: .readonly)
            #expect(try await client.send(.get, "/v1/requests/\(erasure)", headers: headers(key: readonly)).status == .ok)
            #expect(try await patch(client, key: readonly, id: erasure, #"{"status": "in_progress"}"#).status == .forbidden)
        }
    }

    @Test func overdueAndDueBeforeFilters() async throws {
        try await StaffFixture.withApp { fixture, client in
            let person = try await lead(client, key: fixture.adminKey)
            let late = try #require(
                try await open(client, key: fixture.adminKey, lead: person, receivedAt: "2026-01-01T00:00:00Z")["id"] as? String)
            let fresh = try #require(try await open(client, key: fixture.adminKey, lead: person)["id"] as? String)
            func ids(_ query: String) async throws -> [String] {
                let page = try await client.send(.get, "/v1/requests?\(query)", headers: headers(key: fixture.adminKey)).json()
                return (page["data"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            }
            #expect(try await ids("overdue=true") == [late])
            #expect(try await ids("overdue=false") == [fresh])
            #expect(try await ids("due_before=2026-06-01T00:00:00Z") == [late])
            #expect(Set(try await ids("subject_id=\(person)&kind=access")) == [late, fresh])
            _ = try await patch(client, key: fixture.adminKey, id: late, #"{"status": "cancelled"}"#)
            #expect(try await ids("overdue=true") == [])
        }
    }

    @Test func peopleFileThroughTheirLinkWhatTheSettingsOffer() async throws {
        try await StaffFixture.withApp { fixture, client in
            let person = try await lead(client, key: fixture.adminKey)
            let someoneElse = try await lead(client, key: fixture.adminKey, name: "Grace Hopper")
            func token(_ lead: String) async throws -> String {
                let link = try await client.send(.post, "/v1/leads/\(lead)/consent-link", headers: headers(key: fixture.adminKey)).json()
                return String(try #require((link["url"] as? String)?.split(separator: "/").last))
            }
            let mine = try await token(person)
            let theirs = try await token(someoneElse)
            let restricted = try await client.send(
                .patch, "/v1/settings/requests", headers: headers(key: fixture.adminKey, json: true),
                body: #"{"lead_kinds": ["access", "rectification"]}"#
            )
            #expect(restricted.status == .ok)
            let refused = try await client.send(
                .post, "/v1/public/people/\(mine)/requests", headers: headers(key: nil, json: true), body: #"{"kind": "erasure"}"#
            )
            #expect(refused.status == .unprocessableContent)
            let filed = try await client.send(
                .post, "/v1/public/people/\(mine)/requests", headers: headers(key: nil, json: true),
                body: #"{"kind": "access", "details": "What do you hold on me?"}"#
            )
            #expect(filed.status == .created)
            let caseID = try #require(try filed.json()["id"] as? String)
            let staffView = try await client.send(.get, "/v1/requests/\(caseID)", headers: headers(key: fixture.adminKey)).json()
            #expect(staffView["channel"] as? String == "link")
            #expect(staffView["verification_method"] as? String == "personal_link")
            #expect(staffView["verified_at"] is String)
            #expect((staffView["history"] as? [[String: Any]])?.first?["actor_type"] as? String == "person")

            let own = try await client.send(.get, "/v1/public/people/\(mine)/requests").json()
            #expect((own["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [caseID])
            let others = try await client.send(.get, "/v1/public/people/\(theirs)/requests").json()
            #expect((others["data"] as? [Any])?.isEmpty == true)
            #expect(try await client.send(.get, "/v1/public/people/\(String(repeating: "A", count: 43))/requests").status == .notFound)
        }
    }
}
