import CustodianCore
import Foundation
import HTTPTypes
import Postgres
import TestSupport
import Testing

/// The audit trail (GDPR Art. 5(2)): every read of a person's data and every change, with who,
/// what, whose, where and when; append-only against the API's role.
@Suite("Audit trail: reads and changes, each with its actor and the persons concerned")
struct AuditTrailTests {
    struct Entry: Equatable, CustomStringConvertible {
        var actor: String
        var action: String
        var object: String
        var subjects: Set<String>
        var description: String { "\(actor) \(action) \(object) \(subjects.sorted())" }
    }

    /// The entries written since `after` (an entry id), oldest first.
    static func entries(_ pool: PostgresPool, after: Int64) async throws -> [Entry] {
        try await pool.query(
            "SELECT actor_type, action, object, subject_ids::text AS subjects FROM audit_entries WHERE id > $1 ORDER BY id", [after]
        ).map { row in
            let subjects: String = try row.decode("subjects")
            return Entry(
                actor: try row.decode("actor_type"), action: try row.decode("action"), object: try row.decode("object"),
                subjects: Set(subjects.dropFirst().dropLast().split(separator: ",").map(String.init)))
        }
    }

    static func lastID(_ pool: PostgresPool) async throws -> Int64 {
        try await pool.query("SELECT coalesce(max(id), 0) AS n FROM audit_entries").single().decode("n")
    }

    static func lead(_ client: ContractClient, key: String, _ name: String) async throws -> String {
        try #require(
            try await client.create("/v1/leads", key: key, #"{"name": "\#(name)", "email": "\#(name)@audit.example"}"#)["id"] as? String)
    }

    @Test func aLongRequestIdIsStoredShortenedAndFailsNobodysRequest() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            // Accepted and echoed up to 128 characters; the trail keeps the first 100.
            var long = headers(key: admin, json: true)
            long[HTTPField.Name("X-Request-Id")!] = String(repeating: "r", count: 120)
            let created = try await client.send(.post, "/v1/leads", headers: long, body: #"{"name": "Long Id"}"#)
            #expect(created.status == .created, "\(created.text)")
            let id = try #require(try created.json()["id"] as? String)
            let read = try await client.send(.get, "/v1/leads/\(id)", headers: long)
            #expect(read.status == .ok, "\(read.text)")
            #expect(read.headers[HTTPField.Name("X-Request-Id")!] == String(repeating: "r", count: 120))
            let stored: [String] = try await fixture.pool.query(
                "SELECT request_id FROM audit_entries WHERE $1::uuid = ANY (subject_ids) ORDER BY id", [id]
            ).map { try $0.decode("request_id") }
            #expect(stored == [String(repeating: "r", count: 100), String(repeating: "r", count: 100)], "\(stored)")
        }
    }

    @Test func casesRestrictionsAndHoldsAreReadsOfTheirPerson() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            let ida = try await Self.lead(client, key: admin, "ida\(SeededPerson.marker())")
            let request = try await client.openErasure(subjectType: "lead", subjectID: ida, key: admin)
            let restriction = try #require(
                try await client.create(
                    "/v1/leads/\(ida)/restrictions", key: admin, #"{"ground": "accuracy_contested", "reason": "Checking."}"#)["id"]
                    as? String)
            let hold = try #require(
                try await client.create(
                    "/v1/legal-holds", key: admin, #"{"subject_type": "lead", "subject_id": "\#(ida)", "reason": "An audit."}"#)["id"]
                    as? String)
            let mark = try await Self.lastID(fixture.pool)
            for path in [
                "/v1/requests/\(request)", "/v1/requests?subject_id=\(ida)", "/v1/restrictions/\(restriction)", "/v1/legal-holds/\(hold)",
                "/v1/legal-holds?subject_id=\(ida)",
            ] {
                #expect(try await client.send(.get, path, headers: headers(key: admin)).status == .ok, "\(path)")
            }
            #expect(
                try await Self.entries(fixture.pool, after: mark) == [
                    Entry(actor: "staff", action: "read", object: "request_cases", subjects: [ida]),
                    Entry(actor: "staff", action: "list", object: "request_cases", subjects: [ida]),
                    Entry(actor: "staff", action: "read", object: "restrictions", subjects: [ida]),
                    Entry(actor: "staff", action: "read", object: "legal_holds", subjects: [ida]),
                    Entry(actor: "staff", action: "list", object: "legal_holds", subjects: [ida]),
                ])
        }
    }

    @Test func eachReadAndChangeLeavesItsEntryAndAFailedOneNone() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            let marker = SeededPerson.marker()
            let ada = try await Self.lead(client, key: admin, "ada\(marker)")
            let bob = try await Self.lead(client, key: admin, "bob\(marker)")
            let cyd = try await Self.lead(client, key: admin, "cyd\(marker)")
            var mark = try await Self.lastID(fixture.pool)

            // A single read: who (the key and its member), what, whose, the route, the request.
            let read = try await client.send(.get, "/v1/leads/\(ada)", headers: headers(key: admin))
            #expect(read.status == .ok)
            let entry = try await fixture.pool.query(
                """
                SELECT e.actor_type, e.action, e.object, e.route, e.request_id, e.client_ip IS NOT NULL AS has_address,
                       e.subject_ids = ARRAY[$2::uuid] AS just_ada,
                       e.key_id = k.id AND e.staff_id = k.staff_id AS by_the_key
                FROM audit_entries e CROSS JOIN api_keys k WHERE e.id > $1
                """, [mark, ada]
            ).single()
            #expect(try entry.decode("action", as: String.self) == "read" && entry.decode("object", as: String.self) == "leads")
            #expect(try entry.decode("actor_type", as: String.self) == "staff" && entry.decode("by_the_key", as: Bool.self))
            #expect(try entry.decode("route", as: String.self) == "/v1/leads/{id}" && entry.decode("just_ada", as: Bool.self))
            #expect(try entry.decode("request_id", as: String?.self) == read.headers[HTTPField.Name("X-Request-Id")!])
            mark = try await Self.lastID(fixture.pool)

            // A list page: exactly the people it returned; a search that finds nobody and a read
            // of nobody leave nothing.
            let page = try await client.send(.get, "/v1/leads?q=\(marker)&limit=2", headers: headers(key: admin)).json()
            let listed = Set((page["data"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String })
            #expect(listed.count == 2)
            #expect(try await client.send(.get, "/v1/leads/\(UUID())", headers: headers(key: admin)).status == .notFound)
            _ = try await client.send(.get, "/v1/leads?q=nobody-\(marker)", headers: headers(key: admin))
            #expect(
                try await Self.entries(fixture.pool, after: mark) == [
                    Entry(actor: "staff", action: "list", object: "leads", subjects: listed)
                ])
            mark = try await Self.lastID(fixture.pool)

            // Changes, by the database's triggers, with the actor the API gave the transaction.
            #expect(
                try await client.send(
                    .patch, "/v1/leads/\(bob)", headers: headers(key: admin, json: true), body: #"{"status": "contacted"}"#
                ).status == .ok)
            _ = try await client.create("/v1/leads/\(bob)/notes", key: admin, #"{"text": "Called."}"#)
            // A refused change leaves nothing.
            let refused = try await client.send(
                .patch, "/v1/leads/\(bob)", headers: headers(key: admin, json: true), body: #"{"no_such_field": 1}"#)
            #expect(refused.status == .unprocessableContent)
            // A record entered by mistake and deleted: who deleted whom, and when.
            #expect(try await client.send(.delete, "/v1/leads/\(cyd)", headers: headers(key: admin)).status == .noContent)
            let changes = try await Self.entries(fixture.pool, after: mark)
            #expect(
                changes == [
                    Entry(actor: "staff", action: "update", object: "leads", subjects: [bob]),
                    Entry(actor: "staff", action: "create", object: "lead_notes", subjects: [bob]),
                    Entry(actor: "staff", action: "delete", object: "leads", subjects: [cyd]),
                ], "\(changes)")
            mark = try await Self.lastID(fixture.pool)

            // What belongs to one person (their notes, consents, export): a read of them.
            _ = try await client.send(.get, "/v1/leads/\(bob)/notes", headers: headers(key: admin))
            _ = try await ExportTests.export("/v1/leads/\(bob)/export", key: admin, client)
            #expect(
                try await Self.entries(fixture.pool, after: mark) == [
                    Entry(actor: "staff", action: "read", object: "leads/notes", subjects: [bob]),
                    Entry(actor: "staff", action: "read", object: "leads/export", subjects: [bob]),
                ])
            mark = try await Self.lastID(fixture.pool)

            // A feed poll, by an integration key: whom it served.
            var reader = FeedReader("leads", key: try await fixture.key(role: .integration))
            try await reader.poll(client)
            let fed = try await Self.entries(fixture.pool, after: mark)
            #expect(fed == [Entry(actor: "integration", action: "feed", object: "leads", subjects: Set(reader.copy.keys))])
            #expect(fed.first?.subjects.contains(ada) == true && fed.first?.subjects.contains(cyd) == false)
            mark = try await Self.lastID(fixture.pool)

            // The person, through their link: what they were shown, and what they changed.
            let link = try await ObjectionTests.link(client, key: admin, "/v1/leads/\(ada)")
            mark = try await Self.lastID(fixture.pool)
            #expect(try await client.send(.get, "/v1/public/people/\(link)", headers: headers(key: nil)).status == .ok)
            #expect(
                try await client.send(
                    .patch, "/v1/public/people/\(link)", headers: headers(key: nil, json: true), body: #"{"phone": "+49 30 1234"}"#
                ).status == .ok)
            let own = try await Self.entries(fixture.pool, after: mark)
            #expect(own.first == Entry(actor: "link", action: "view", object: "/v1/public/people/{token}", subjects: [ada]))
            #expect(own.contains(Entry(actor: "link", action: "update", object: "leads", subjects: [ada])), "\(own)")
        }
    }

    @Test func theTrailIsReadByAdminsPerPersonAndPerKeyAndTheAPIRoleCannotRewriteIt() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            let marker = SeededPerson.marker()
            let ada = try await Self.lead(client, key: admin, "ada\(marker)")
            let reader = try await fixture.key(role: .readonly)
            _ = try await client.send(.get, "/v1/leads/\(ada)", headers: headers(key: reader))
            _ = try await client.send(.get, "/v1/leads/\(ada)", headers: headers(key: reader))

            #expect(try await client.send(.get, "/v1/leads/\(ada)/audit", headers: headers(key: reader)).status == .forbidden)
            let trail = try await client.send(.get, "/v1/leads/\(ada)/audit?limit=2", headers: headers(key: admin)).json()
            let shown = trail["data"] as? [[String: Any]] ?? []
            #expect(shown.count == 2 && shown.allSatisfy { $0["action"] as? String == "read" }, "newest first: the two reads")
            let next = try #require(trail["next_cursor"] as? String)
            let rest = try await client.send(.get, "/v1/leads/\(ada)/audit?cursor=\(next)", headers: headers(key: admin)).json()
            #expect((rest["data"] as? [[String: Any]])?.last?["action"] as? String == "create", "then the lead's creation")

            let readerKey: String = try await fixture.pool.query(
                "SELECT k.id::text AS id FROM api_keys k JOIN staff s ON s.id = k.staff_id WHERE s.role = 'readonly'"
            ).single().decode("id")
            let byKey = try await client.send(.get, "/v1/audit?key_id=\(readerKey)&action=read", headers: headers(key: admin)).json()
            #expect((byKey["data"] as? [[String: Any]])?.count == 2)
            #expect(try await client.send(.get, "/v1/audit?cursor=nonsense", headers: headers(key: admin)).status == .badRequest)

            for statement in ["UPDATE audit_entries SET action = 'list'", "DELETE FROM audit_entries", "TRUNCATE audit_entries"] {
                await #expect(throws: PostgresError.self, "\(statement)") { try await fixture.pool.execute(statement) }
            }
            // Old months go only by the owner's hand (`custodian audit-expire`), never the API role's.
            await #expect(throws: PostgresError.self) { try await fixture.pool.execute("SELECT audit_expire(30)") }
            try await fixture.database.withPool(role: .owner) { owner in
                try await owner.execute(
                    "CREATE TABLE audit_partitions.audit_entries_2020_01 PARTITION OF audit_entries FOR VALUES FROM ('2020-01-01') TO ('2020-02-01')"
                )
                try await owner.execute(
                    "INSERT INTO audit_entries (at, actor_type, action, object, subject_ids) VALUES ('2020-01-15', 'system', 'read', 'leads', ARRAY[$1::uuid])",
                    [ada])
                #expect(try await owner.query("SELECT audit_expire(3650) AS n").single().decode("n", as: Int.self) == 0)
                #expect(try await owner.query("SELECT audit_expire(30) AS n").single().decode("n", as: Int.self) == 1)
            }
            let count: Int = try await fixture.pool.query(
                "SELECT count(*)::int AS n FROM audit_entries WHERE $1::uuid = ANY (subject_ids)", [ada]
            )
            .single().decode("n")
            #expect(count >= 3)
        }
    }
}
