import CustodianCore
import CustodianHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

@Suite("Web-to-lead forms: lead, acceptances and consents together or not at all")
struct WebFormTests {
    static func counts(_ pool: PostgresPool) async throws -> [Int] {
        let row = try await pool.query(
            """
            SELECT (SELECT count(*) FROM leads)::int AS leads, (SELECT count(*) FROM policy_acceptances)::int AS acceptances,
                   (SELECT count(*) FROM consent_records)::int AS consents
            """
        ).single()
        return [try row.decode("leads"), try row.decode("acceptances"), try row.decode("consents")]
    }

    @Test func aSubmissionCreatesTheLeadItsAcceptanceAndItsConsentsAtomically() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            _ = try await PolicyTests.publish(
                client, key: admin, "privacy",
                #"{"texts": [{"language": "de", "title": "Datenschutz", "body": "v1"}, {"language": "en", "title": "Privacy", "body": "v1"}]}"#
            )
            let purpose = try await client.createPurpose(key: admin, appliesTo: "leads")
            let bad = try await client.send(
                .post, "/v1/forms", headers: headers(key: admin, json: true), body: #"{"name": "No name", "fields": ["email"]}"#)
            #expect(bad.status == .unprocessableContent && bad.text.contains("required_fields"))
            let form = try await client.create(
                "/v1/forms", key: admin,
                #"{"name": "Contact us", "fields": ["name", "email", "company"], "required_fields": ["name", "email"], "purposes": ["\#(purpose)"], "requires_privacy": true, "thank_you": "Danke!"}"#
            )
            let key = try #require(form["key"] as? String)
            let shown = try await client.send(.get, "/v1/public/forms/\(key)").json()
            #expect((shown["policies"] as? [[String: Any]])?.count == 2, "the privacy policy in both languages")
            #expect((shown["purposes"] as? [[String: Any]])?.first?["description"] as? String == "Monthly news.")

            let before = try await Self.counts(fixture.pool)
            var browser = headers(key: nil, json: true)
            browser[.userAgent] = "FormTest/2.0"
            // Without the privacy policy's acceptance nothing is stored.
            let refused = try await client.send(
                .post, "/v1/public/forms/\(key)", headers: browser,
                body: #"{"name": "Fay Form", "email": "fay@form.example", "consents": ["\#(purpose)"]}"#)
            #expect(refused.status == .unprocessableContent && refused.text.contains("accept"), "\(refused.text)")
            #expect(try await Self.counts(fixture.pool) == before)
            let missing = try await client.send(.post, "/v1/public/forms/\(key)", headers: browser, body: #"{"name": "No Mail"}"#)
            #expect(missing.status == .unprocessableContent && missing.text.contains("email"))
            let notAsked = try await client.send(
                .post, "/v1/public/forms/\(key)", headers: browser, body: #"{"name": "X", "email": "x@form.example", "phone": "1"}"#)
            #expect(notAsked.status == .unprocessableContent && notAsked.text.contains("phone"))

            let body =
                #"{"name": "Fay Form", "email": "fay@form.example", "consents": ["\#(purpose)"], "accept": [{"kind": "privacy", "version": 1, "language": "de"}]}"#
            let submitted = try await client.send(.post, "/v1/public/forms/\(key)", headers: browser, body: body)
            #expect(submitted.status == .created, "\(submitted.text)")
            #expect(try submitted.json()["thank_you"] as? String == "Danke!")
            #expect(try await Self.counts(fixture.pool) == [before[0] + 1, before[1] + 1, before[2] + 1])
            let lead = try await fixture.pool.query(
                "SELECT id, source FROM leads WHERE email = 'fay@form.example'"
            ).single()
            #expect(try lead.decode("source", as: String.self) == "web form")
            let leadID: UUID = try lead.decode("id")
            let acceptance = try await client.send(.get, "/v1/leads/\(leadID)/policy-acceptances", headers: headers(key: admin)).json()
            let accepted = try #require((acceptance["data"] as? [[String: Any]])?.first)
            #expect(accepted["context"] as? String == "web_form" && accepted["user_agent"] as? String == "FormTest/2.0")
            #expect(accepted["context_id"] as? String == form["id"] as? String && accepted["language"] as? String == "de")
            let consents = try await client.send(.get, "/v1/leads/\(leadID)/consents", headers: headers(key: admin)).text
            #expect(consents.contains("web_form"))

            // The same answers again (a double click) make no second lead; a bot filling the honeypot stores nothing.
            #expect(try await client.send(.post, "/v1/public/forms/\(key)", headers: browser, body: body).status == .created)
            let bot = try await client.send(
                .post, "/v1/public/forms/\(key)", headers: browser,
                body:
                    #"{"name": "Bot", "email": "bot@form.example", "accept": [{"kind": "privacy", "version": 1, "language": "en"}], "homepage": "http://spam.example"}"#
            )
            #expect(try bot.status == .created && bot.json()["thank_you"] as? String == "Danke!")
            #expect(try await Self.counts(fixture.pool) == [before[0] + 1, before[1] + 1, before[2] + 1])

            // A purpose the form does not offer fails the whole submission.
            let other = try await client.createPurpose(key: admin, name: "Calls", description: "Phone calls.", appliesTo: "leads")
            let stray = try await client.send(
                .post, "/v1/public/forms/\(key)", headers: browser,
                body:
                    #"{"name": "Gus", "email": "gus@form.example", "consents": ["\#(other)"], "accept": [{"kind": "privacy", "version": 1, "language": "en"}]}"#
            )
            #expect(stray.status == .unprocessableContent)
            #expect(try await Self.counts(fixture.pool) == [before[0] + 1, before[1] + 1, before[2] + 1])

            // Switched off, the form is gone for the public.
            let current = try await client.send(.get, "/v1/forms/\(form["id"] as? String ?? "")", headers: headers(key: admin))
            let off = try await client.send(
                .patch, "/v1/forms/\(form["id"] as? String ?? "")",
                headers: headers(key: admin, json: true, ifMatch: current.headers[.eTag]),
                body: #"{"active": false}"#)
            #expect(off.status == .ok)
            for body in [#"{"active": null}"#, #"{"name": null}"#] {
                let refused = try await client.send(
                    .patch, "/v1/forms/\(form["id"] as? String ?? "")", headers: headers(key: admin, json: true), body: body)
                #expect(refused.status == .unprocessableContent, "\(body)")
            }
            #expect(try await client.send(.get, "/v1/public/forms/\(key)").status == .notFound)
            #expect(try await client.send(.get, "/v1/public/forms/not-a-key").status == .notFound)
        }
    }

    @Test func anErasedPersonMaySubmitAgain() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            let form = try await client.create(
                "/v1/forms", key: admin, #"{"name": "Again", "fields": ["name", "email"], "requires_privacy": false}"#)
            let key = try #require(form["key"] as? String)
            let lead = try #require(
                try await client.create("/v1/leads", key: admin, #"{"name": "Eve Erased", "email": "eve@form.example"}"#)["id"] as? String)
            let erasure = try await client.openErasure(subjectType: "lead", subjectID: lead, key: admin)
            try await client.startErasure(erasure, key: admin)
            #expect(try await client.send(.post, "/v1/requests/\(erasure)/erase", headers: headers(key: admin)).status == .ok)
            let staffAgain = try await client.send(
                .post, "/v1/leads", headers: headers(key: admin, json: true), body: #"{"name": "Eve", "email": "eve@form.example"}"#)
            #expect(staffAgain.status == .conflict, "staff may not enter an erased person again")
            let herself = try await client.send(
                .post, "/v1/public/forms/\(key)", headers: headers(key: nil, json: true),
                body: #"{"name": "Eve", "email": "eve@form.example"}"#)
            #expect(herself.status == .created, "\(herself.text)")
        }
    }

    /// If-Match holds until the change commits: of concurrent changes sent with the same revision
    /// exactly one is made, the others are told the revision moved on (before, a form's revision
    /// was read outside the changing transaction, and two could both pass).
    @Test func concurrentChangesUnderOneRevisionMakeExactlyOne() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            let form = try await client.create(
                "/v1/forms", key: admin, #"{"name": "Racy", "fields": ["name", "email"], "required_fields": ["name", "email"]}"#)
            let id = try #require(form["id"] as? String)
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for attempt in 0..<8 {
                    group.addTask {
                        try await client.send(
                            .patch, "/v1/forms/\(id)", headers: headers(key: admin, json: true, ifMatch: "\"1\""),
                            body: #"{"name": "Racy \#(attempt)"}"#
                        ).status
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == .ok }.count == 1, "\(statuses)")
            #expect(statuses.filter { $0 == .preconditionFailed }.count == 7, "\(statuses)")
        }
    }
}
