import CustodianCore
import CustodianHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import Synchronization
import TestSupport
import Testing

/// PostgreSQL dies (`pg_ctl stop -m immediate`, as in a crash) in the middle of a write load
/// over real HTTP; clients retry with their Idempotency-Key on 503, on a lost connection, and when
/// they give up waiting (some commits are made slow, so their outcome is unknown to the client
/// that gave up: the case a retry without a key would duplicate). Afterwards every create that
/// was acknowledged is in the database exactly once, and none is there twice.
@Suite("A database crash under write load")
struct FaultTests {
    static let creates = 2_000
    static let clients = 16

    final class Tally: Sendable {
        let acknowledged = Mutex<[Int: String]>([:])
        let retries = Atomic<Int>(0)
        let unexpected = Mutex<[String]>([])
    }

    @Test func everyAcknowledgedCreateIsThereExactlyOnce() async throws {
        if ProcessInfo.processInfo.environment["TEST_DATABASE_URL"] != nil {
            // This test crashes a server of its own; it only runs with throwaway clusters.
            return
        }
        let cluster = try ThrowawayCluster.start(durableCommits: true)
        defer { cluster.destroy() }
        let database = try await TestPostgres.migratedDatabase(on: cluster.connectionString)
        try await database.withPool(role: .owner, maxConnections: 1) { owner in
            // One create in twenty takes 600 ms to commit, longer than its client waits (300 ms).
            try await owner.execute(
                """
                CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF hashtext(NEW.name) % 20 = 0 THEN PERFORM pg_sleep(0.6); END IF;
                    RETURN NULL;
                END $$
                """
            )
            try await owner.execute(
                """
                CREATE CONSTRAINT TRIGGER leads_slow_commit AFTER INSERT ON leads DEFERRABLE INITIALLY DEFERRED
                FOR EACH ROW EXECUTE FUNCTION slow_commit()
                """
            )
        }
        try await database.withPool(role: .api, maxConnections: 8, acquireTimeout: .seconds(2)) { pool in
            let key = try await StaffDirectory(database: pool).bootstrapKey(staffName: "Loader", email: nil, role: .staff, keyName: "load")
                .key
            let router = buildRouter(settings: ServerSettings(), database: pool).router
            let app = Application(
                router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: TestPostgres.logger
            )
            let tally = Tally()
            let started = ContinuousClock.now
            try await app.test(.ahc(.http)) { client in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for worker in 0..<Self.clients {
                        group.addTask { try await Self.load(worker: worker, client: client, key: key, tally: tally) }
                    }
                    group.addTask {
                        // The crash comes once the load is well under way, and lasts a moment.
                        try await TestPostgres.waitUntil(timeout: .seconds(120)) { tally.acknowledged.withLock { $0.count } >= 300 }
                        try cluster.stopServer()
                        try await Task.sleep(for: .milliseconds(1500))
                        try cluster.startServer()
                    }
                    try await group.waitForAll()
                }
            }
            let acknowledged = tally.acknowledged.withLock { $0 }
            #expect(tally.unexpected.withLock { $0 }.isEmpty, "\(tally.unexpected.withLock { $0.prefix(5) })")
            #expect(acknowledged.count == Self.creates)
            let rows = try await pool.query("SELECT id::text AS id, name FROM leads WHERE name LIKE 'Fault %'")
            var byName: [String: [String]] = [:]
            for row in rows { byName[try row.decode("name"), default: []].append(try row.decode("id")) }
            let duplicated = byName.filter { $0.value.count > 1 }
            #expect(duplicated.isEmpty, "created twice: \(duplicated.keys.sorted().prefix(5))")
            let missing = acknowledged.filter { index, id in byName["Fault \(index)"] != [id] }
            #expect(missing.isEmpty, "acknowledged but not (or otherwise) stored: \(missing.keys.sorted().prefix(5))")
            #expect(rows.count == acknowledged.count)
            // For the record: what the run went through.
            print(
                "fault test: \(Self.creates) creates over \(Self.clients) clients, \(tally.retries.load(ordering: .relaxed)) retries, "
                    + "\(acknowledged.count) acknowledged, \(rows.count) stored, \(duplicated.count) duplicated, "
                    + "in \(ContinuousClock.now - started)"
            )
        }
    }

    struct GaveUp: Error {}

    /// Creates the worker's share of leads, each with its own Idempotency-Key, retrying on 503
    /// and on a lost connection until it is acknowledged (bounded in time).
    static func load(worker: Int, client: some TestClientProtocol & Sendable, key: String, tally: Tally) async throws {
        let deadline = ContinuousClock.now + .seconds(120)
        for index in stride(from: worker, to: creates, by: clients) {
            var keyed = headers(key: key, json: true)
            keyed[HTTPField.Name("Idempotency-Key")!] = "fault-\(index)"
            let fields = keyed
            let body = #"{"name": "Fault \#(index)", "source": "fault test"}"#
            while true {
                guard ContinuousClock.now < deadline else {
                    tally.unexpected.withLock { $0.append("\(index): gave up") }
                    return
                }
                let status: HTTPResponse.Status
                let response: TestResponse
                do {
                    response = try await withThrowingTaskGroup(of: TestResponse?.self) { group in
                        group.addTask {
                            try await client.execute(uri: "/v1/leads", method: .post, headers: fields, body: ByteBuffer(string: body))
                        }
                        group.addTask {
                            try await Task.sleep(for: .milliseconds(300))
                            return nil
                        }
                        defer { group.cancelAll() }
                        guard let first = try await group.next(), let answered = first else { throw GaveUp() }
                        return answered
                    }
                    status = response.status
                } catch {
                    tally.retries.add(1, ordering: .relaxed)
                    try await Task.sleep(for: .milliseconds(50))
                    continue
                }
                if status == .created, let id = try? response.json()["id"] as? String {
                    tally.acknowledged.withLock { $0[index] = id }
                    break
                }
                guard status == .serviceUnavailable else {
                    tally.unexpected.withLock { $0.append("\(index): \(status) \(response.text.prefix(200))") }
                    return
                }
                tally.retries.add(1, ordering: .relaxed)
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }
}
