import CustodianCore
import CustodianHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

/// A downstream copy kept by polling a feed, as an integrator would.
struct FeedReader {
    let path: String
    let key: String
    var cursor: String?
    var copy: [String: NSDictionary] = [:]
    var removed: [String: String] = [:]
    /// Lines that brought nothing new: an upsert equal to what the copy held, or a second
    /// removal of a record. (A record created and removed between two polls comes as a removal
    /// alone, which is not a repeat.)
    var repeats: [String] = []

    init(_ feed: String, key: String) {
        path = "/v1/feeds/\(feed)"
        self.key = key
    }

    /// A record's id; a person's in the consents feed.
    static func recordID(_ record: [String: Any]?) -> String? { record?["id"] as? String ?? record?["person_id"] as? String }

    static func lines(_ response: TestResponse) throws -> [[String: Any]] {
        try response.text.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
    }

    /// One poll; applies its lines up to `stoppingAfter` of them (a reader that breaks off), and
    /// keeps the cursor of the last line applied. Returns the lines applied.
    @discardableResult
    mutating func poll(_ client: ContractClient, stoppingAfter limit: Int = .max, sourceLocation: SourceLocation = #_sourceLocation)
        async throws -> [[String: Any]]
    {
        let query = cursor.map { "?since=\($0)" } ?? ""
        let response = try await client.send(.get, path + query, headers: headers(key: key), sourceLocation: sourceLocation)
        #expect(response.status == .ok, "\(response.text)", sourceLocation: sourceLocation)
        #expect(response.headers[.contentType] == "application/x-ndjson", sourceLocation: sourceLocation)
        let lines = try Self.lines(response)
        #expect(lines.last?["op"] as? String == "checkpoint", sourceLocation: sourceLocation)
        let ids = lines.compactMap { Self.recordID($0["record"] as? [String: Any]) ?? $0["id"] as? String }
        #expect(ids == ids.sorted() && Set(ids).count == ids.count, "one line per record, by id", sourceLocation: sourceLocation)
        var applied: [[String: Any]] = []
        for line in lines.prefix(limit) {
            switch line["op"] as? String {
            case "upsert":
                let record = try #require(line["record"] as? [String: Any])
                let id = try #require(Self.recordID(record))
                let state = NSDictionary(dictionary: record)
                if copy[id] == state { repeats.append(id) }
                copy[id] = state
            case let op?:
                if op != "checkpoint" {
                    let id = try #require(line["id"] as? String)
                    #expect(
                        Set(line.keys) == ["op", "cursor", "id"], "a tombstone holds nothing of the person", sourceLocation: sourceLocation)
                    copy.removeValue(forKey: id)
                    if removed[id] != nil { repeats.append(id) }
                    removed[id] = op
                }
            case nil: Issue.record("a line without op", sourceLocation: sourceLocation)
            }
            cursor = try #require(line["cursor"] as? String)
            applied.append(line)
        }
        return applied
    }
}

@Suite("Feeds: every change once, in commit order, erasures included")
struct FeedTests {
    static func ops(_ lines: [[String: Any]]) -> [String] {
        lines.map { line in
            let id = FeedReader.recordID(line["record"] as? [String: Any]) ?? line["id"] as? String ?? ""
            return "\(line["op"] as? String ?? "?") \(id)"
        }
    }

    static func current(_ path: String, key: String, _ client: ContractClient) async throws -> NSDictionary {
        NSDictionary(dictionary: try await client.send(.get, path, headers: headers(key: key)).json())
    }

    @Test func aSnapshotThenChangesAsTheAPIShowsThem() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            let integration = try await fixture.key(role: .integration)
            let customer = try #require(try await client.create("/v1/customers", key: admin, #"{"company": "Feed GmbH"}"#)["id"] as? String)
            var contacts: [String] = []
            for index in 0..<3 {
                contacts.append(
                    try #require(
                        try await client.create(
                            "/v1/contacts", key: admin,
                            #"{"customer_id": "\#(customer)", "first_name": "F\#(index)", "last_name": "Feed", "email": "f\#(index)@feed.example", "custom_fields": {}}"#
                        )["id"] as? String))
            }
            var reader = FeedReader("contacts", key: integration)
            let snapshot = try await reader.poll(client)
            #expect(snapshot.count == 4)
            for id in contacts {
                let answer = try await Self.current("/v1/contacts/\(id)", key: admin, client)
                #expect(reader.copy[id] == answer, "the GET answer's shape: \(String(describing: reader.copy[id])) vs \(answer)")
            }
            let patched = try await client.send(
                .patch, "/v1/contacts/\(contacts[1])", headers: headers(key: admin, json: true), body: #"{"phone": "+49 30 1234"}"#)
            #expect(patched.status == .ok)
            #expect(try await client.send(.delete, "/v1/contacts/\(contacts[2])", headers: headers(key: admin)).status == .noContent)
            let added = try #require(
                try await client.create(
                    "/v1/contacts", key: admin,
                    #"{"customer_id": "\#(customer)", "first_name": "New", "last_name": "Feed", "email": "n@feed.example"}"#
                )["id"] as? String)
            let changes = try await reader.poll(client)
            let expected = [("upsert", contacts[1]), ("deleted", contacts[2]), ("upsert", added)].sorted { $0.1 < $1.1 }.map {
                "\($0.0) \($0.1)"
            }
            #expect(Self.ops(changes).dropLast() == expected[...])
            #expect(reader.copy[contacts[1]] == (try await Self.current("/v1/contacts/\(contacts[1])", key: admin, client)))
            #expect(reader.copy[added] == (try await Self.current("/v1/contacts/\(added)", key: admin, client)))
            #expect(Self.ops(try await reader.poll(client)) == ["checkpoint "], "nothing changed since")
            #expect(reader.repeats == [])

            // The integration role reads feeds and nothing else; every role above it reads them too.
            #expect(try await client.send(.get, "/v1/contacts", headers: headers(key: integration)).status == .forbidden)
            #expect(
                try await client.send(.get, "/v1/feeds/customers", headers: headers(key: try await fixture.key(role: .readonly))).status
                    == .ok)
            #expect(try await client.send(.get, "/v1/feeds/leads").status == .unauthorized)
        }
    }

    @Test func aTransactionHeldOpenAcrossAPollIsServedWhenItCommitsAndNeverTwice() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            var reader = FeedReader("leads", key: admin)
            try await reader.poll(client)
            try await fixture.database.withPool(role: .api) { other in
                let early: UUID = try await other.transaction { transaction in
                    // This transaction takes its id first and commits last.
                    let early: UUID = try await transaction.query(
                        "INSERT INTO leads (name) VALUES ('Early Bird') RETURNING id"
                    ).single().decode("id")
                    let late = try #require(try await client.create("/v1/leads", key: admin, #"{"name": "Late Comer"}"#)["id"] as? String)
                    let seen = try await reader.poll(client)
                    #expect(Self.ops(seen) == ["upsert \(late)", "checkpoint "], "the open transaction's change is not served yet")
                    return early
                }
                let after = try await reader.poll(client)
                #expect(Self.ops(after) == ["upsert \(early.uuidString.lowercased())", "checkpoint "], "served once it committed")
                #expect(Self.ops(try await reader.poll(client)) == ["checkpoint "])
            }
            #expect(reader.repeats == [])
        }
    }

    @Test func aPollThatBreaksOffResumesAfterItsLastLine() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            var ids: [String] = []
            for index in 0..<6 {
                ids.append(
                    try #require(try await client.create("/v1/customers", key: admin, #"{"company": "Resume \#(index)"}"#)["id"] as? String)
                )
            }
            ids.sort()
            var reader = FeedReader("customers", key: admin)
            let first = try await reader.poll(client, stoppingAfter: 2)
            #expect(Self.ops(first) == ["upsert \(ids[0])", "upsert \(ids[1])"])
            for id in [ids[0], ids[3]] {
                let patched = try await client.send(
                    .patch, "/v1/customers/\(id)", headers: headers(key: admin, json: true), body: #"{"phone": "+49 30 555"}"#)
                #expect(patched.status == .ok)
            }
            let second = try await reader.poll(client, stoppingAfter: 2)
            #expect(Self.ops(second) == ["upsert \(ids[0])", "upsert \(ids[2])"], "the changed record before the break, then on")
            let rest = try await reader.poll(client)
            #expect(Self.ops(rest) == ["upsert \(ids[3])", "upsert \(ids[4])", "upsert \(ids[5])", "checkpoint "])
            #expect(Self.ops(try await reader.poll(client)) == ["checkpoint "])
            #expect(reader.repeats == [])
            for id in ids {
                #expect(reader.copy[id] == (try await Self.current("/v1/customers/\(id)", key: admin, client)))
            }
        }
    }

    @Test func underConcurrentWritersNothingIsMissedAndNothingRepeated() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            var reader = FeedReader("leads", key: admin)
            try await reader.poll(client)
            let finished = ManagedAtomicFlag()
            let writing = Task {
                defer { finished.set() }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for writer in 0..<4 {
                        group.addTask {
                            for round in 0..<15 {
                                let lead = try #require(
                                    try await client.create("/v1/leads", key: admin, #"{"name": "W\#(writer) R\#(round)"}"#)["id"]
                                        as? String)
                                let patched = try await client.send(
                                    .patch, "/v1/leads/\(lead)", headers: headers(key: admin, json: true), body: #"{"status": "contacted"}"#
                                )
                                #expect(patched.status == .ok)
                                if round % 3 == 0 {
                                    #expect(
                                        try await client.send(.delete, "/v1/leads/\(lead)", headers: headers(key: admin)).status
                                            == .noContent)
                                }
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            var polls = 0
            while !finished.isSet {
                try await reader.poll(client)
                polls += 1
            }
            try await writing.value
            #expect(polls >= 2, "the polls ran beside the writers")
            try await reader.poll(client)
            let all = try await fixture.pool.query("SELECT id FROM leads")
            let live = Set(try all.map { try $0.decode("id", as: UUID.self).uuidString.lowercased() })
            #expect(Set(reader.copy.keys) == live)
            for id in live.prefix(10) {
                #expect(reader.copy[id] == (try await Self.current("/v1/leads/\(id)", key: admin, client)))
            }
            #expect(reader.repeats == [])
        }
    }

    @Test func anErasureReachesTheFeedAsATombstone() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            let lead = try #require(
                try await client.create("/v1/leads", key: admin, #"{"name": "Gone Soon", "email": "gone@feed.example"}"#)["id"] as? String)
            var reader = FeedReader("leads", key: admin)
            try await reader.poll(client)
            #expect(reader.copy[lead] != nil)
            let erasure = try await client.openErasure(subjectType: "lead", subjectID: lead, key: admin)
            try await client.startErasure(erasure, key: admin)
            #expect(try await client.send(.post, "/v1/requests/\(erasure)/erase", headers: headers(key: admin)).status == .ok)
            let lines = try await reader.poll(client)
            #expect(Self.ops(lines) == ["erased \(lead)", "checkpoint "])
            #expect(reader.copy[lead] == nil && reader.removed[lead] == "erased")
        }
    }

    @Test func cursorsFromElsewhereAreRefusedAndOldOnesHaveExpired() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            _ = try await client.create("/v1/leads", key: admin, #"{"name": "Cursor Case"}"#)
            var reader = FeedReader("leads", key: admin)
            try await reader.poll(client)
            let cursor = try #require(reader.cursor)
            for bad in ["", "not-a-cursor", "AAAA", String(cursor.dropLast(2)), cursor + "A", "%20" + cursor] {
                let response = try await client.send(.get, "/v1/feeds/leads?since=\(bad)", headers: headers(key: admin))
                #expect(response.status == .badRequest, "\(bad)")
                #expect(try response.json()["type"] as? String == "urn:custodian:problem:invalid-cursor")
            }
            let otherFeed = try await client.send(.get, "/v1/feeds/contacts?since=\(cursor)", headers: headers(key: admin))
            #expect(otherFeed.status == .badRequest, "a cursor of another feed")
            let unknownParameter = try await client.send(.get, "/v1/feeds/leads?limit=5", headers: headers(key: admin))
            #expect(unknownParameter.status == .unprocessableContent)

            // With every change within the retention, housekeeping removes nothing and expires no cursor.
            #expect(try await Feeds(database: fixture.pool).purge() == 0)
            #expect(try await client.send(.get, "/v1/feeds/leads?since=\(cursor)", headers: headers(key: admin)).status == .ok)

            // Housekeeping purges changes past the retention and moves the horizon past them: a
            // cursor from before a purged change (one it has not been served) has expired. One
            // that was served everything purged stays valid, so the change comes after the cursor.
            _ = try await client.create("/v1/leads", key: admin, #"{"name": "Purged Unseen"}"#)
            try await fixture.database.withPool(role: .owner) { owner in
                try await owner.execute("UPDATE feed_changes SET changed_at = now() - interval '31 days'")
            }
            _ = try await client.create("/v1/leads", key: admin, #"{"name": "After Purge"}"#)
            #expect(try await Feeds(database: fixture.pool).purge() >= 1)
            let expired = try await client.send(.get, "/v1/feeds/leads?since=\(cursor)", headers: headers(key: admin))
            #expect(expired.status == .gone)
            #expect(try expired.json()["type"] as? String == "urn:custodian:problem:cursor-expired")
            // Nothing below the horizon is left, and the change within the retention stays.
            let counts = try await fixture.pool.query(
                """
                SELECT count(*) FILTER (WHERE xid < (SELECT purged_below FROM feed_horizon))::int AS below,
                       count(*) FILTER (WHERE changed_at > now() - interval '1 day')::int AS recent
                FROM feed_changes
                """
            ).single()
            #expect(try counts.decode("below", as: Int.self) == 0)
            #expect(try counts.decode("recent", as: Int.self) == 1)
        }
    }
}

/// Set once, read after: the writers are done.
final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
