import CustodianCore
import CustodianHTTP
import Foundation
import HTTPTypes
import JSONText
import Postgres
import TestSupport
import Testing

/// Retention (GDPR Art. 5(1)(e)): a policy's preview names whom it would erase and why, its run
/// erases exactly those through the map-driven erasure, and a legal hold, an open case or a
/// restriction keeps a person; a hold stops an erasure case too, whoever sends the SQL.
@Suite("Retention: the preview is what the run erases; holds, open cases and restrictions exempt")
struct RetentionTests {
    static let settings = ServerSettings(secrets: ServerSecrets(current: .generate()))

    /// Makes leads look untouched for `months`: only the owner can, with the touch trigger off.
    static func age(_ ids: [String], months: Int, table: String = "leads", _ fixture: StaffFixture) async throws {
        let list = ids.map { "'\($0)'" }.joined(separator: ",")
        try await fixture.tamper(
            """
            UPDATE \(table) SET created_at = now() - interval '\(months) months', updated_at = now() - interval '\(months) months'
            WHERE id IN (\(list))
            """,
            bypassing: "\(table)_touch", on: table)
    }

    static func preview(_ client: ContractClient, _ policy: String, key: String) async throws -> [String: Any] {
        let response = try await client.send(.get, "/v1/retention-policies/\(policy)/preview", headers: headers(key: key))
        #expect(response.status == .ok, "\(response.text)")
        return try response.json()
    }

    @Test func thePreviewIsWhatTheRunErasesAndExemptionsHold() async throws {
        try await StaffFixture.withApp(settings: Self.settings) { fixture, client in
            let admin = fixture.adminKey
            let marker = SeededPerson.marker()
            var leads: [String: String] = [:]
            for name in ["old", "lost", "fresh", "noted", "held", "asking", "restricted"] {
                leads[name] = try await AuditTrailTests.lead(client, key: admin, "\(name)\(marker)")
            }
            let aged = leads.filter { $0.key != "fresh" }.map(\.value)
            try await Self.age(aged, months: 30, fixture)
            // A note last month is activity: the "noted" lead is not inactive.
            let note = try await client.send(
                .post, "/v1/leads/\(leads["noted"]!)/notes", headers: headers(key: admin, json: true), body: #"{"text": "Called back."}"#)
            #expect(note.status == .created, "\(note.text)")
            let hold = try await client.create(
                "/v1/legal-holds", key: admin,
                #"{"subject_type": "lead", "subject_id": "\#(leads["held"]!)", "reason": "Pending dispute over an invoice."}"#)
            let holdID = try #require(hold["id"] as? String)
            let request = try await client.openErasure(subjectType: "lead", subjectID: leads["asking"]!, key: admin)
            let restricted = try await client.send(
                .post, "/v1/leads/\(leads["restricted"]!)/restrictions", headers: headers(key: admin, json: true),
                body: #"{"ground": "legal_claims", "reason": "Needed for a claim."}"#)
            #expect(restricted.status == .created, "\(restricted.text)")

            let created = try await client.create(
                "/v1/retention-policies", key: admin, #"{"name": "Leads after 24 months", "subject_type": "lead", "inactive_months": 24}"#)
            let policy = try #require(created["id"] as? String)
            #expect(created["active"] as? Bool == false, "a policy starts inactive")
            #expect(created["description"] as? String == "Enquiries (leads) are erased once there has been no activity for 2 years.")

            let preview = try await Self.preview(client, policy, key: admin)
            let rows = preview["data"] as? [[String: Any]] ?? []
            let outcome = Dictionary(
                uniqueKeysWithValues: rows.map { ($0["subject_id"] as? String ?? "", $0["exempt_because"] as? String ?? "erase") })
            #expect(
                outcome == [
                    leads["old"]!: "erase", leads["lost"]!: "erase", leads["held"]!: "legal_hold", leads["asking"]!: "open_request",
                    leads["restricted"]!: "restricted",
                ])
            #expect(preview["matched"] as? Int == 5 && preview["to_erase"] as? Int == 2 && preview["exempt"] as? Int == 3)
            #expect(rows.allSatisfy { ($0["reason"] as? String)?.contains("more than 24 months ago") == true })

            // The run erases exactly the preview's "erase" rows, with tombstones naming the policy.
            let runs = RetentionRuns(database: fixture.pool, secrets: Self.settings.secrets, logger: TestPostgres.logger)
            let dry = try await runs.run(try #require(UUID(uuidString: policy)), dryRun: true)
            #expect(Set(dry.erased.map(\.id.lowercasedString)) == [leads["old"]!, leads["lost"]!])
            let run = try await runs.run(try #require(UUID(uuidString: policy)))
            #expect(Set(run.erased.map(\.id.lowercasedString)) == [leads["old"]!, leads["lost"]!] && run.exempt == 3 && run.failed == 0)
            let buried: [String] = try await fixture.pool.query(
                "SELECT subject_id::text AS id FROM erasure_tombstones WHERE retention_policy_id = $1::uuid ORDER BY 1", [policy]
            ).map { try $0.decode("id") }
            #expect(buried == [leads["old"]!, leads["lost"]!].sorted())
            for name in ["old", "lost"] {
                #expect(try await client.send(.get, "/v1/leads/\(leads[name]!)", headers: headers(key: admin)).status == .notFound)
            }
            let found = try await DatabaseInspection.occurrences(of: ["old\(marker)", "lost\(marker)"], in: fixture.pool)
            #expect(found.isEmpty, "\(found)")
            let events: [String] = try await fixture.pool.query(
                "SELECT payload ->> 'retention_policy_id' AS policy FROM webhook_events WHERE type = 'subject.erased'"
            ).map { try $0.decode("policy") }
            #expect(events == [policy, policy])

            // The hold stops an erasure case too, and the database refuses the tombstone whoever asks.
            let heldCase = try await client.openErasure(subjectType: "lead", subjectID: leads["held"]!, key: admin)
            try await client.startErasure(heldCase, key: admin)
            let refused = try await client.send(.post, "/v1/requests/\(heldCase)/erase", headers: headers(key: admin))
            #expect(refused.status == .conflict && refused.text.contains("legal hold"), "\(refused.text)")
            await #expect(throws: PostgresError.self) {
                try await fixture.pool.execute(
                    "INSERT INTO erasure_tombstones (subject_type, subject_id) VALUES ('lead', $1::uuid)", [leads["held"]!])
            }

            // Lifted, the hold exempts no more: the open case does, until it erases the person.
            let lifted = try await client.send(
                .post, "/v1/legal-holds/\(holdID)/lift", headers: headers(key: admin, json: true), body: #"{"reason": "Settled."}"#)
            let liftedHold = try lifted.json()
            #expect(lifted.status == .ok && liftedHold["in_force"] as? Bool == false, "\(lifted.text)")
            // Its history is kept: rewritten by nobody, the API's role included.
            await #expect(throws: PostgresError.self) {
                try await fixture.pool.execute("UPDATE legal_holds SET reason = 'Never mind.' WHERE id = $1::uuid", [holdID])
            }
            let reasons = (try await Self.preview(client, policy, key: admin)["data"] as? [[String: Any]] ?? []).map {
                ($0["subject_id"] as? String ?? "", $0["exempt_because"] as? String ?? "erase")
            }
            #expect(Dictionary(uniqueKeysWithValues: reasons)[leads["held"]!] == "open_request")
            let erased = try await client.send(.post, "/v1/requests/\(heldCase)/erase", headers: headers(key: admin))
            #expect(erased.status == .ok, "\(erased.text)")
            let after = try await Self.preview(client, policy, key: admin)
            #expect(after["matched"] as? Int == 2 && after["to_erase"] as? Int == 0 && after["exempt"] as? Int == 2)
            _ = request
        }
    }

    @Test func statusesAndACustomersActivityNarrowAPolicy() async throws {
        try await StaffFixture.withApp(settings: Self.settings) { fixture, client in
            let admin = fixture.adminKey
            let marker = SeededPerson.marker()
            let lost = try #require(
                try await client.create("/v1/leads", key: admin, #"{"name": "lost\#(marker)", "status": "lost"}"#)["id"] as? String)
            let open = try #require(try await client.create("/v1/leads", key: admin, #"{"name": "open\#(marker)"}"#)["id"] as? String)
            try await Self.age([lost, open], months: 7, fixture)
            let policy = try #require(
                try await client.create(
                    "/v1/retention-policies", key: admin,
                    #"{"name": "Lost leads", "subject_type": "lead", "inactive_months": 6, "lead_statuses": ["lost"]}"#)["id"] as? String)
            let rows = try await Self.preview(client, policy, key: admin)["data"] as? [[String: Any]] ?? []
            #expect(rows.compactMap { $0["subject_id"] as? String } == [lost])
            #expect((rows.first?["reason"] as? String)?.hasSuffix("status lost") == true)

            // Contacts of a customer: one contact untouched for years, another busy: the customer is active.
            let customer = try #require(
                try await client.create("/v1/customers", key: admin, #"{"company": "Acme \#(marker)"}"#)["id"] as? String)
            var contacts: [String] = []
            for name in ["quiet", "busy"] {
                contacts.append(
                    try #require(
                        try await client.create(
                            "/v1/contacts", key: admin,
                            #"{"customer_id": "\#(customer)", "first_name": "\#(name)", "last_name": "X", "email": "\#(name)\#(marker)@acme.example"}"#
                        )["id"] as? String))
            }
            try await Self.age([contacts[0]], months: 130, table: "contacts", fixture)
            try await Self.age([customer], months: 130, table: "customers", fixture)
            let byRecord = try #require(
                try await client.create(
                    "/v1/retention-policies", key: admin, #"{"name": "Contacts", "subject_type": "contact", "inactive_months": 120}"#)["id"]
                    as? String)
            let byCustomer = try #require(
                try await client.create(
                    "/v1/retention-policies", key: admin,
                    #"{"name": "Inactive customers", "subject_type": "contact", "inactive_months": 120, "activity_of": "customer"}"#)["id"]
                    as? String)
            #expect((try await Self.preview(client, byRecord, key: admin)["data"] as? [[String: Any]])?.count == 1)
            #expect((try await Self.preview(client, byCustomer, key: admin)["data"] as? [[String: Any]])?.isEmpty == true)

            let wrong = try await client.send(
                .post, "/v1/retention-policies", headers: headers(key: admin, json: true),
                body: #"{"name": "x", "subject_type": "contact", "inactive_months": 6, "lead_statuses": ["lost"]}"#)
            #expect(wrong.status == .unprocessableContent && wrong.text.contains("lead_statuses"))
            // Active, it is what the privacy centre tells leads.
            let activated = try await client.send(
                .patch, "/v1/retention-policies/\(policy)", headers: headers(key: admin, json: true), body: #"{"active": true}"#)
            let activatedPolicy = try activated.json()
            #expect(activated.status == .ok && activatedPolicy["active"] as? Bool == true, "\(activated.text)")
            let inForce = try await RetentionPolicies(database: fixture.pool).inForce()
            #expect(
                RetentionStatement.text(inForce, for: .lead, language: .de)
                    == "Anfragen (Leads) mit dem Status \"lost\" werden gelöscht, wenn seit 6 Monaten keine Aktivität stattfand.")
        }
    }
}
