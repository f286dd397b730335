import CustodianCore
import CustodianHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

@Suite("Public endpoints are cheap, bounded, and cannot starve the staff API")
struct PublicPathTests {
    private let unknownToken = String(repeating: "Q", count: 43)

    @Test func aClientOverTheLimitIsRefusedWithoutADatabaseWrite() async throws {
        let settings = ServerSettings(publicRateLimit: 3, publicRateWindow: .seconds(3600))
        try await StaffFixture.withApp(settings: settings) { fixture, client in
            var statuses: [HTTPResponse.Status] = []
            for _ in 0..<10 {
                statuses.append(try await client.send(.get, "/v1/public/consent/\(unknownToken)").status)
            }
            #expect(statuses == Array(repeating: .notFound, count: 3) + Array(repeating: .tooManyRequests, count: 7))
            // Only the three allowed requests were counted in PostgreSQL.
            let hits: Int = try await fixture.pool.query("SELECT coalesce(sum(hits), 0)::int AS n FROM rate_limit_hits").single().decode(
                "n")
            #expect(hits == 3)
        }
    }

    @Test func aTokenOfTheWrongShapeNeverReachesTheDatabase() async throws {
        try await StaffFixture.withApp { fixture, client in
            for token in ["not-a-token", String(repeating: "Q", count: 44), "%00", String(repeating: "*", count: 43)] {
                let response = try await client.send(.get, "/v1/public/consent/\(token)")
                #expect(response.status == .notFound, "\(token)")
                #expect(try response.json()["detail"] as? String == "this consent link is not valid")
            }
            #expect(try await fixture.pool.query("SELECT 1 FROM rate_limit_hits").isEmpty)
        }
    }

    @Test func aFloodOfPublicRequestsLeavesTheStaffAPIItsConnections() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool(role: .api, maxConnections: 2) { staffPool in
                try await database.withPool(role: .api, maxConnections: 1, acquireTimeout: .milliseconds(200)) { publicPool in
                    let key = try await StaffDirectory(database: staffPool).bootstrapKey(
                        staffName: "Ada", email: nil, role: .admin, keyName: "tests"
                    ).key
                    let settings = ServerSettings(publicMaxConcurrent: 4)
                    try await withApp(database: staffPool, publicDatabase: publicPool, settings: settings) { client in
                        // The public pool's only connection is busy for a while.
                        let holder = Task { try await publicPool.execute("SELECT pg_sleep(1.5)") }
                        try await TestPostgres.waitUntil { publicPool.usage.lent == 1 }
                        let (publicStatuses, staffStatuses) = try await withThrowingTaskGroup(of: (Bool, HTTPResponse.Status).self) {
                            group in
                            for _ in 0..<40 {
                                group.addTask { (true, try await client.send(.get, "/v1/public/consent/\(unknownToken)").status) }
                            }
                            for _ in 0..<10 {
                                group.addTask { (false, try await client.send(.get, "/v1/staff", headers: headers(key: key)).status) }
                            }
                            var publicStatuses: [HTTPResponse.Status] = []
                            var staffStatuses: [HTTPResponse.Status] = []
                            for try await (isPublic, status) in group {
                                if isPublic { publicStatuses.append(status) } else { staffStatuses.append(status) }
                            }
                            return (publicStatuses, staffStatuses)
                        }
                        #expect(staffStatuses.allSatisfy { $0 == .ok }, "\(staffStatuses)")
                        #expect(publicStatuses.allSatisfy { $0 == .serviceUnavailable }, "\(publicStatuses)")
                        // At most four waited for the public pool; the rest were turned away at once.
                        try await holder.value
                    }
                    let staffBackends: Int = try await staffPool.query(
                        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'"
                    ).single().decode("n")
                    #expect(staffBackends <= 3)
                }
            }
        }
    }

    @Test func instancesTakeHitsInBatchesAndTogetherNeverAdmitMoreThanTheLimit() async throws {
        try await StaffFixture.withApp { fixture, _ in
            // Two instances sharing one database; a limit of 100 takes hits 5 at a time.
            // Replicas share the server's key, so a client's address has one bucket.
            let key = ServerSecret.generate()
            let first = RateLimiter(database: fixture.pool, addressKey: key, limit: 100, window: .seconds(3600))
            let second = RateLimiter(database: fixture.pool, addressKey: key, limit: 100, window: .seconds(3600))
            func counted() async throws -> Int {
                try await fixture.pool.query("SELECT coalesce(sum(hits), 0)::int AS n FROM rate_limit_hits").single().decode("n")
            }
            #expect(try await first.hit(scope: "test", client: "192.0.2.1") == .allowed)
            #expect(try await counted() == 5)
            var admittedBySecond = 0
            while try await second.hit(scope: "test", client: "192.0.2.1") == .allowed { admittedBySecond += 1 }
            // The four hits the first instance took and has not used yet are the client's too.
            #expect(admittedBySecond == 95)
            var admittedByFirst = 1
            while try await first.hit(scope: "test", client: "192.0.2.1") == .allowed { admittedByFirst += 1 }
            #expect(admittedByFirst == 5)
            // Another client has its own count.
            #expect(try await second.hit(scope: "test", client: "192.0.2.2") == .allowed)
        }
    }

    @Test func oldWindowsAreSweptAndTheSweepUsesItsIndex() async throws {
        try await StaffFixture.withApp { fixture, client in
            try await fixture.pool.execute(
                """
                INSERT INTO rate_limit_hits (bucket, window_start, hits)
                SELECT 'old:' || n, now() - interval '1 hour', 1 FROM generate_series(1, 50) n
                UNION ALL SELECT 'new', now(), 1
                """
            )
            let limiter = RateLimiter(database: fixture.pool, addressKey: ServerSecret.generate(), limit: 60)
            #expect(try await limiter.sweep() == 50)
            #expect(try await fixture.pool.query("SELECT bucket FROM rate_limit_hits").count == 1)
            let plan = try await fixture.pool.withConnection { session in
                try await session.execute("SET enable_seqscan = off")
                let lines = try await session.query("EXPLAIN DELETE FROM rate_limit_hits WHERE window_start < now() - interval '5 minutes'")
                    .map { try $0.decode(at: 0, as: String.self) }
                try await session.execute("RESET enable_seqscan")
                return lines.joined(separator: "\n")
            }
            #expect(plan.contains("rate_limit_hits_window"))
        }
    }
}
