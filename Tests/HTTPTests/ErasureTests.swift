import CustodianCore
import CustodianHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

@Suite("Erasure: the plan, and nothing personal left behind")
struct ErasureTests {
    static let settings = ServerSettings(secrets: ServerSecrets(current: .generate()))

    private static func marker() -> String { SeededPerson.marker() }

    private static func digits() -> String { SeededPerson.digits() }

    private func seed(_ client: ContractClient, key: String) async throws -> SeededPerson {
        try await client.seedPerson(key: key)
    }

    private static func tables(of plan: [String: Any]) -> [String: (action: String, rows: Int)] {
        var tables: [String: (action: String, rows: Int)] = [:]
        for table in plan["tables"] as? [[String: Any]] ?? [] {
            if let name = table["table"] as? String, let action = table["action"] as? String, let rows = table["rows"] as? Int {
                tables[name] = (action, rows)
            }
        }
        return tables
    }

    @Test func thePlanIsWhatHappensAndNoValueOfThePersonRemainsAnywhere() async throws {
        try await StaffFixture.withApp(settings: Self.settings) { fixture, client in
            let admin = fixture.adminKey
            let person = try await seed(client, key: admin)
            let erasure = try await client.openErasure(
                subjectType: "lead", subjectID: person.lead, key: admin, details: "erase me \(person.marker), Zelda\(person.marker)")
            try await client.startErasure(erasure, key: admin)

            try await fixture.database.withPool { inspector in
                let neighbourBefore = try await Self.neighbourRows(person.secondNeighbour, customer: person.customer, in: inspector)
                let countsBefore = try await DatabaseInspection.rowCounts(in: inspector)

                let planResponse = try await client.send(
                    .get, "/v1/requests/\(erasure)/erasure-plan", headers: headers(key: try await fixture.key(role: .staff)))
                #expect(planResponse.status == .ok, "\(planResponse.text)")
                let plan = try planResponse.json()
                let planned = Self.tables(of: plan)
                let subjects = Set((plan["subjects"] as? [[String: Any]] ?? []).compactMap { $0["subject_id"] as? String })
                #expect(subjects == [person.lead, person.contact], "the customer has other contacts: it is not the person")
                #expect(planned["leads"]?.action == "deleted" && planned["leads"]?.rows == 1)
                #expect(planned["contacts"]?.action == "deleted" && planned["contacts"]?.rows == 1)
                #expect(planned["lead_notes"]?.rows == 1 && planned["contact_notes"]?.rows == 1)
                // The lead's consent, its copy carried to the contact, and the contact's withdrawal.
                #expect(planned["consent_records"]?.action == "deleted" && planned["consent_records"]?.rows == 3)
                #expect(planned["consent_links"]?.action == "deleted")
                #expect(planned["request_cases"]?.action == "updated" && planned["request_cases"]?.rows == 2)
                #expect(planned["idempotency_keys"]?.action == "deleted")
                #expect(planned["webhook_events"]?.action == "deleted")
                #expect(planned["customers"] == nil)
                #expect(plan["suppressed_emails"] as? Int == 1)
                let caseColumns = (plan["tables"] as? [[String: Any]])?.first { $0["table"] as? String == "request_cases" }?["columns"]
                let kept = (caseColumns as? [[String: Any]])?.first { $0["column"] as? String == "subject_id" }
                #expect(kept?["action"] as? String == "kept")
                #expect((kept?["legal_basis"] as? String)?.contains("Art. 5(2)") == true)
                let details = (caseColumns as? [[String: Any]])?.first { $0["column"] as? String == "details" }
                #expect(details?["action"] as? String == "cleared" && details?["values"] as? Int == 2)

                let erased = try await client.send(.post, "/v1/requests/\(erasure)/erase", headers: headers(key: admin))
                #expect(erased.status == .ok, "\(erased.text)")
                let outcome = try erased.json()
                #expect(outcome["already_erased"] as? Bool == false)
                // The tombstone's counts are the plan's.
                let counts = try #require(outcome["counts"] as? [String: [String: Int]])
                for (table, effect) in planned where effect.action != "kept" {
                    #expect(counts[table]?[effect.action] == effect.rows, "\(table)")
                }
                #expect(counts.count == planned.filter { $0.value.action != "kept" }.count)
                // And the plan's counts are what left the tables.
                let countsAfter = try await DatabaseInspection.rowCounts(in: inspector)
                for (table, effect) in planned where effect.action == "deleted" && table != "webhook_events" {
                    #expect((countsBefore[table] ?? 0) - (countsAfter[table] ?? 0) == effect.rows, "\(table)")
                }
                let pendingAboutThem: Int = try await inspector.query(
                    "SELECT count(*) AS n FROM webhook_events WHERE subject_id = ANY ($1::uuid[]) AND created_at < $2::timestamptz",
                    ["{\(person.lead),\(person.contact)}", outcome["erased_at"] as? String ?? ""]
                ).single().decode("n")
                #expect(pendingAboutThem == 0)

                #expect(try await DatabaseInspection.occurrences(of: person.needles, in: inspector) == [])
                #expect(try await Self.neighbourRows(person.secondNeighbour, customer: person.customer, in: inspector) == neighbourBefore)
                let firstNeighbour = try await client.send(.get, "/v1/contacts/\(person.firstNeighbour)", headers: headers(key: admin))
                #expect(try firstNeighbour.json()["is_primary"] as? Bool == true, "the oldest remaining contact took the primary flag")

                let tombstones = try #require(outcome["tombstones"] as? [[String: Any]])
                #expect(Set(tombstones.compactMap { $0["subject_id"] as? String }) == [person.lead, person.contact])
                for tombstone in tombstones {
                    #expect(tombstone["chain_seq"] as? Int != nil)
                    #expect((tombstone["chain_hash"] as? String)?.count == 64)
                }
                let request = try #require(outcome["request"] as? [String: Any])
                #expect(request["status"] as? String == "completed")
                #expect(request["details"] is NSNull)
                #expect((request["history"] as? [[String: Any]])?.last?["action"] as? String == "erased")
                let announced: String = try await inspector.query(
                    "SELECT payload::text AS payload FROM webhook_events WHERE type = 'subject.erased'"
                ).single().decode("payload")
                #expect(announced.contains(person.lead) && announced.contains(person.contact))
                #expect(announced.range(of: "@") == nil)

                // Erasing again changes nothing and answers with the first erasure.
                let again = try await client.send(.post, "/v1/requests/\(erasure)/erase", headers: headers(key: admin))
                #expect(again.status == .ok)
                #expect(try again.json()["already_erased"] as? Bool == true)
                #expect(try again.json()["erased_at"] as? String == outcome["erased_at"] as? String)
                // (The audit trail grows with every read in between: that is its job.)
                var countsAgain = try await DatabaseInspection.rowCounts(in: inspector)
                countsAgain["audit_entries"] = countsAfter["audit_entries"]
                #expect(countsAgain == countsAfter, "\(countsAgain.filter { countsAfter[$0.key] != $0.value })")

                #expect(try await client.send(.get, "/v1/leads/\(person.lead)", headers: headers(key: admin)).status == .notFound)
                #expect(try await client.send(.get, "/v1/contacts/\(person.contact)", headers: headers(key: admin)).status == .notFound)
            }
        }
    }

    private static func neighbourRows(_ contact: String, customer: String, in pool: PostgresPool) async throws -> [String] {
        try await DatabaseInspection.rows(of: "contacts", where: "id", is: contact, in: pool)
            + DatabaseInspection.rows(of: "contact_notes", where: "contact_id", is: contact, in: pool)
            + DatabaseInspection.rows(of: "consent_records", where: "contact_id", is: contact, in: pool)
            + DatabaseInspection.rows(of: "consent_links", where: "contact_id", is: contact, in: pool)
            + DatabaseInspection.rows(of: "customers", where: "id", is: customer, in: pool)
            + DatabaseInspection.rows(of: "customer_notes", where: "customer_id", is: customer, in: pool)
    }

    @Test func staffCannotEnterAnErasedEmailAgainAndDeleteIsForMistakes() async throws {
        try await StaffFixture.withApp(settings: Self.settings) { fixture, client in
            let admin = fixture.adminKey
            let person = try await seed(client, key: admin)
            let erasure = try await client.openErasure(subjectType: "contact", subjectID: person.contact, key: admin)
            // A person with history is not deleted: DELETE says to erase them.
            let refused = try await client.send(.delete, "/v1/contacts/\(person.secondNeighbour)", headers: headers(key: admin))
            #expect(refused.status == .conflict)
            #expect((try refused.json()["detail"] as? String)?.contains("POST /v1/requests/{id}/erase") == true)
            let withCase = try await client.send(.delete, "/v1/leads/\(person.lead)", headers: headers(key: admin))
            #expect(withCase.status == .conflict)
            let mistake = try #require(try await client.create("/v1/leads", key: admin, #"{"name": "Typo"}"#)["id"] as? String)
            #expect(try await client.send(.delete, "/v1/leads/\(mistake)", headers: headers(key: admin)).status == .noContent)

            try await client.startErasure(erasure, key: admin)
            #expect(try await client.send(.post, "/v1/requests/\(erasure)/erase", headers: headers(key: admin)).status == .ok)

            let shouted = person.email.uppercased()
            for (method, path, body) in [
                (HTTPRequest.Method.post, "/v1/leads", #"{"name": "Someone", "email": "\#(shouted)"}"#),
                (
                    .post, "/v1/contacts",
                    #"{"customer_id": "\#(person.customer)", "first_name": "A", "last_name": "B", "email": "\#(person.email)"}"#
                ),
                (.patch, "/v1/contacts/\(person.firstNeighbour)", #"{"email": "\#(person.email)"}"#),
            ] {
                let response = try await client.send(method, path, headers: headers(key: admin, json: true), body: body)
                #expect(response.status == .conflict, "\(path)")
                #expect(try response.json()["type"] as? String == "urn:custodian:problem:erased-person")
                #expect((try response.json()["errors"] as? [[String: Any]])?.first?["field"] as? String == "email")
            }
            _ = try await client.create("/v1/leads", key: admin, #"{"name": "Someone else", "email": "other-\#(UUID())@erase.example"}"#)
        }
    }

    @Test func erasingACustomerErasesItsContactsAndKeepsWhatTheMapKeeps() async throws {
        try await StaffFixture.withApp(settings: Self.settings) { fixture, client in
            let admin = fixture.adminKey
            let r = Self.marker()
            let customer = try #require(
                try await client.create(
                    "/v1/customers", key: admin,
                    #"{"company": "Solo \#(r) GmbH", "vat_number": "DE\#(Self.digits())", "phone": "+1 555 \#(r)", "website": "https://solo\#(r).example", "billing_street": "Ledger Street 1", "shipping_street": "Parcel Lane \#(r)"}"#
                )["id"] as? String)
            var contacts: [String] = []
            for name in ["Una", "Ugo"] {
                contacts.append(
                    try #require(
                        try await client.create(
                            "/v1/contacts", key: admin,
                            #"{"customer_id": "\#(customer)", "first_name": "\#(name)\#(r)", "last_name": "Staff", "email": "\#(name)\#(r)@solo.example"}"#
                        )["id"] as? String))
            }
            _ = try await client.create("/v1/customers/\(customer)/notes", key: admin, #"{"text": "customer note \#(r)"}"#)
            let other = try #require(try await client.create("/v1/customers", key: admin, #"{"company": "Elsewhere"}"#)["id"] as? String)
            let bystander = try #require(
                try await client.create(
                    "/v1/contacts", key: admin,
                    #"{"customer_id": "\#(other)", "first_name": "Bea", "last_name": "Bystander", "email": "bea\#(r)@elsewhere.example"}"#
                )["id"] as? String)
            let erasure = try await client.openErasure(subjectType: "customer", subjectID: customer, key: admin)
            try await client.startErasure(erasure, key: admin)

            let plan = try await client.send(.get, "/v1/requests/\(erasure)/erasure-plan", headers: headers(key: admin)).json()
            let planned = Self.tables(of: plan)
            #expect(planned["customers"]?.action == "updated" && planned["customers"]?.rows == 1)
            #expect(planned["contacts"]?.action == "deleted" && planned["contacts"]?.rows == 2)
            #expect(planned["customer_notes"]?.rows == 1)
            let customerColumns =
                (plan["tables"] as? [[String: Any]])?.first { $0["table"] as? String == "customers" }?["columns"] as? [[String: Any]] ?? []
            let actions = Dictionary(
                customerColumns.compactMap { column in (column["column"] as? String).map { ($0, column["action"] as? String ?? "") } },
                uniquingKeysWith: { first, _ in first })
            #expect(actions["phone"] == "cleared" && actions["website"] == "cleared" && actions["shipping_street"] == "cleared")
            #expect(actions["company"] == "kept" && actions["billing_street"] == "kept" && actions["vat_number"] == "kept")
            #expect(plan["suppressed_emails"] as? Int == 2)

            let erased = try await client.send(.post, "/v1/requests/\(erasure)/erase", headers: headers(key: admin))
            #expect(erased.status == .ok, "\(erased.text)")
            #expect((try erased.json()["tombstones"] as? [[String: Any]])?.count == 3)
            let kept = try await client.send(.get, "/v1/customers/\(customer)", headers: headers(key: admin)).json()
            #expect(kept["company"] as? String == "Solo \(r) GmbH")
            #expect(kept["billing_street"] as? String == "Ledger Street 1")
            #expect(kept["phone"] is NSNull && kept["website"] is NSNull && kept["shipping_street"] is NSNull)
            for contact in contacts {
                #expect(try await client.send(.get, "/v1/contacts/\(contact)", headers: headers(key: admin)).status == .notFound)
            }
            #expect(try await client.send(.get, "/v1/contacts/\(bystander)", headers: headers(key: admin)).status == .ok)
            try await fixture.database.withPool { inspector in
                let needles = ["+1 555 \(r)", "solo\(r).example", "Parcel Lane \(r)", "Una\(r)", "Ugo\(r)", "customer note \(r)"]
                let found = try await DatabaseInspection.occurrences(of: needles, in: inspector)
                #expect(found == [])
            }
        }
    }

    @Test func aCustomerMadeFromThePersonsLeadAloneIsThePersonToo() async throws {
        try await StaffFixture.withApp(settings: Self.settings) { fixture, client in
            let admin = fixture.adminKey
            let r = Self.marker()
            let lead = try #require(
                try await client.create(
                    "/v1/leads", key: admin,
                    #"{"name": "Sol\#(r) Trader", "company": "Sol Trading", "phone": "+44 \#(r)", "website": "https://sol\#(r).example", "email": "sol\#(r)@trade.example"}"#
                )["id"] as? String)
            let conversion = try await client.send(.post, "/v1/leads/\(lead)/convert", headers: headers(key: admin)).json()
            let contact = try #require((conversion["contact"] as? [String: Any])?["id"] as? String)
            let customer = try #require((conversion["customer"] as? [String: Any])?["id"] as? String)
            let erasure = try await client.openErasure(subjectType: "contact", subjectID: contact, key: admin)
            try await client.startErasure(erasure, key: admin)
            let plan = try await client.send(.get, "/v1/requests/\(erasure)/erasure-plan", headers: headers(key: admin)).json()
            let subjects = Set((plan["subjects"] as? [[String: Any]] ?? []).compactMap { $0["subject_id"] as? String })
            #expect(subjects == [lead, contact, customer])
            #expect(try await client.send(.post, "/v1/requests/\(erasure)/erase", headers: headers(key: admin)).status == .ok)
            try await fixture.database.withPool { inspector in
                let found = try await DatabaseInspection.occurrences(of: ["+44 \(r)", "sol\(r)", "Sol\(r)"], in: inspector)
                #expect(found == [])
            }
        }
    }

    @Test func onlyAnAdminErasesAVerifiedErasureCaseInProgress() async throws {
        try await StaffFixture.withApp(settings: Self.settings) { fixture, client in
            let admin = fixture.adminKey
            let staff = try await fixture.key(role: .staff)
            let lead = try #require(try await client.create("/v1/leads", key: admin, #"{"name": "Pat"}"#)["id"] as? String)
            let erasure = try await client.openErasure(subjectType: "lead", subjectID: lead, key: admin)
            func erase(_ key: String) async throws -> TestResponse {
                try await client.send(.post, "/v1/requests/\(erasure)/erase", headers: headers(key: key))
            }
            #expect(try await erase(admin).status == .conflict, "received, not in progress")
            let started = try await client.send(
                .patch, "/v1/requests/\(erasure)", headers: headers(key: admin, json: true), body: #"{"status": "in_progress"}"#)
            #expect(started.status == .ok)
            let unverified = try await erase(admin)
            #expect(unverified.status == .conflict)
            #expect((try unverified.json()["detail"] as? String)?.contains("verif") == true)
            try await client.startErasure(erasure, key: admin)
            #expect(try await erase(staff).status == .forbidden)
            #expect(try await client.send(.get, "/v1/leads/\(lead)", headers: headers(key: admin)).status == .ok, "nothing was erased")

            let access = try #require(
                try await client.create(
                    "/v1/requests", key: admin, #"{"kind": "access", "subject_type": "lead", "subject_id": "\#(lead)"}"#)["id"] as? String)
            #expect(try await client.send(.get, "/v1/requests/\(access)/erasure-plan", headers: headers(key: staff)).status == .conflict)
            #expect(try await client.send(.post, "/v1/requests/\(access)/erase", headers: headers(key: admin)).status == .conflict)
            #expect(try await client.send(.post, "/v1/requests/\(UUID())/erase", headers: headers(key: admin)).status == .notFound)
            #expect(try await erase(admin).status == .ok)
        }
    }
}
