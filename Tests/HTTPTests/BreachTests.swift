import CustodianCore
import Foundation
import HTTPTypes
import JSONText
import Postgres
import TestSupport
import Testing

/// Breaches (GDPR Art. 33, 34): the record with its 72-hour deadline, and the people a leaked
/// key reached, from the audit trail — exactly those, as pages and as CSV.
@Suite("Breaches: the deadline, and a scope that lists exactly the people a key reached")
struct BreachTests {
    @Test func aScopeOverAKeysWindowListsExactlyThePeopleThatKeyRead() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            let marker = SeededPerson.marker()
            var leads: [String] = []
            for name in ["ana", "ben", "cem", "dov"] {
                leads.append(try await AuditTrailTests.lead(client, key: admin, "\(name)\(marker)"))
            }
            let leaked = try await fixture.key(role: .readonly)
            let leakedID: String = try await fixture.pool.query(
                "SELECT k.id::text AS id FROM api_keys k JOIN staff s ON s.id = k.staff_id WHERE s.role = 'readonly'"
            ).single().decode("id")
            let start = Date()
            // The leaked key reads two people, and a page that shows two more... of which one is read again.
            _ = try await client.send(.get, "/v1/leads/\(leads[0])", headers: headers(key: leaked))
            _ = try await client.send(.get, "/v1/leads/\(leads[1])/notes", headers: headers(key: leaked))
            // Others' reads are not the leaked key's.
            _ = try await client.send(.get, "/v1/leads/\(leads[3])", headers: headers(key: admin))

            let body = """
                {"detected_at": "\(RFC3339.string(from: Date()))", "description": "A read-only key was pasted into a public chat.",
                 "categories": ["name", "contact_data"], "scope": {"key_id": "\(leakedID)", "from": "\(RFC3339.string(from: start.addingTimeInterval(-5)))"}}
                """
            let created = try await client.send(.post, "/v1/breaches", headers: headers(key: admin, json: true), body: body)
            #expect(created.status == .created, "\(created.text)")
            let breach = try created.json()
            let id = try #require(breach["id"] as? String)
            let detected = try #require((breach["detected_at"] as? String).flatMap(RFC3339.date(from:)))
            let deadline = try #require((breach["authority_deadline_at"] as? String).flatMap(RFC3339.date(from:)))
            #expect(deadline.timeIntervalSince(detected) == 72 * 3600)

            let people = try await client.send(.get, "/v1/breaches/\(id)/people", headers: headers(key: admin)).json()
            let reached = (people["data"] as? [[String: Any]] ?? []).compactMap { $0["subject_id"] as? String }
            #expect(Set(reached) == [leads[0], leads[1]], "exactly the people the key read")
            let csv = try await client.send(.get, "/v1/breaches/\(id)/people.csv", headers: headers(key: admin))
            #expect(csv.status == .ok && csv.headers[.contentType]?.hasPrefix("text/csv") == true)
            let lines = csv.text.split(separator: "\r\n")
            #expect(lines.first == "subject_id,subject_type,first_at,last_at,actions" && lines.count == 3)
            #expect(lines.dropFirst().allSatisfy { $0.contains(",lead,") })

            // Narrowed to the record reads, one person is left; a staff member who is no admin sees nothing.
            let narrowed = try await client.send(
                .patch, "/v1/breaches/\(id)", headers: headers(key: admin, json: true), body: #"{"scope": {"objects": ["leads"]}}"#)
            #expect(narrowed.status == .ok, "\(narrowed.text)")
            let left = try await client.send(.get, "/v1/breaches/\(id)/people", headers: headers(key: admin)).json()
            #expect((left["data"] as? [[String: Any]])?.compactMap { $0["subject_id"] as? String } == [leads[0]])
            #expect(try await client.send(.get, "/v1/breaches/\(id)", headers: headers(key: leaked)).status == .forbidden)

            // The deadline is announced once when a day away and once when missed, unless the authority was told.
            let breaches = Breaches(database: fixture.pool)
            #expect(try await breaches.announceDeadlines() == 0)
            try await fixture.pool.execute("UPDATE breaches SET detected_at = now() - interval '50 hours' WHERE id = $1::uuid", [id])
            #expect(try await breaches.announceDeadlines() == 1)
            try await fixture.pool.execute("UPDATE breaches SET detected_at = now() - interval '73 hours' WHERE id = $1::uuid", [id])
            #expect(try await breaches.announceDeadlines() == 1)
            #expect(try await breaches.announceDeadlines() == 0)
            let events: [String] = try await fixture.pool.query(
                "SELECT type FROM webhook_events WHERE payload ->> 'breach_id' = $1 ORDER BY created_at, id", [id]
            ).map { try $0.decode("type") }
            #expect(events == ["breach.due_soon", "breach.overdue"])
            let notified = try await client.send(
                .patch, "/v1/breaches/\(id)", headers: headers(key: admin, json: true),
                body: #"{"status": "authority_notified", "authority_notified_at": "\#(RFC3339.string(from: Date()))"}"#)
            #expect(try notified.json()["status"] as? String == "authority_notified")
            let refused = try await client.send(
                .post, "/v1/breaches", headers: headers(key: admin, json: true),
                body: #"{"detected_at": "2026-12-07T00:00:00Z", "description": "x", "categories": ["hair_colour"]}"#)
            #expect(refused.status == .unprocessableContent && refused.text.contains("categories"))
        }
    }
}
