import CustodianHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

@Suite("Liveness and readiness")
struct HealthTests {
    /// Longer than a readiness answer is reused.
    static let readinessAge: Duration = .milliseconds(1_100)

    @Test func livenessAnswersWithoutTheDatabase() async throws {
        let unreachable = TestPostgres.unreachablePool()
        try await withApp(database: unreachable) { client in
            let response = try await client.send(.get, "/healthz")
            #expect(response.status == .ok)
            #expect(try response.json()["status"] as? String == "ok")
        }
        await unreachable.close()
    }

    @Test func readinessIs200WhenTheDatabaseAnswers() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool(role: .api) { pool in
                try await withApp(database: pool) { client in
                    let response = try await client.send(.get, "/readyz")
                    #expect(response.status == .ok)
                    #expect(response.headers[.contentType] == "application/json")
                    #expect(try response.json()["status"] as? String == "ready")
                }
            }
        }
    }

    @Test func readinessIs503WhenTheDatabaseIsUnreachable() async throws {
        let unreachable = TestPostgres.unreachablePool()
        try await withApp(database: unreachable) { client in
            let response = try await client.send(.get, "/readyz")
            #expect(response.status == .serviceUnavailable)
            #expect(response.headers[.contentType] == "application/problem+json")
            #expect(response.headers[.retryAfter] == "5")
            let problem = try response.json()
            #expect(problem["type"] as? String == "urn:custodian:problem:database-unavailable")
            #expect(problem["status"] as? Int == 503)
        }
        await unreachable.close()
    }

    @Test func readinessIs503WhenNoConnectionFreesUpInTime() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool(role: .api, maxConnections: 1) { pool in
                let settings = ServerSettings(readinessTimeout: .milliseconds(200))
                try await withApp(database: pool, settings: settings) { client in
                    async let holder: Void = pool.withConnection { try await $0.execute("SELECT pg_sleep(1)") }
                    try await TestPostgres.waitUntil { pool.usage.lent == 1 }
                    let busy = try await client.send(.get, "/readyz")
                    #expect(busy.status == .serviceUnavailable)
                    try await holder
                    try await Task.sleep(for: Self.readinessAge)
                    #expect(try await client.send(.get, "/readyz").status == .ok)
                }
            }
        }
    }

    @Test func manyReadinessProbesAskTheDatabaseOnce() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool(role: .api, maxConnections: 1) { pool in
                let settings = ServerSettings(readinessTimeout: .seconds(5))
                try await withApp(database: pool, settings: settings) { client in
                    async let holder: Void = pool.withConnection { try await $0.execute("SELECT pg_sleep(1)") }
                    try await TestPostgres.waitUntil { pool.usage.lent == 1 }
                    try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                        for _ in 0..<20 { group.addTask { try await client.send(.get, "/readyz").status } }
                        try await TestPostgres.waitUntil { pool.usage.waiting >= 1 }
                        try await Task.sleep(for: .milliseconds(200))
                        // Twenty probes, one check waiting for the connection.
                        #expect(pool.usage.waiting == 1)
                        for try await status in group { #expect(status == .ok) }
                    }
                    try await holder
                }
            }
        }
    }

    @Test func readinessRecoversWhenTheDatabaseComesBack() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool(role: .api, maxConnections: 2) { pool in
                try await withApp(database: pool) { client in
                    #expect(try await client.send(.get, "/readyz").status == .ok)
                    // Every connection of this database is killed, as by a server restart; the
                    // timeout makes pg_terminate_backend wait until each backend has exited.
                    _ = try await TestPostgres.shared.adminQuery(
                        "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE datname = $1",
                        [database.name]
                    )
                    try await Task.sleep(for: Self.readinessAge)
                    #expect(try await client.send(.get, "/readyz").status == .ok)
                }
            }
        }
    }
}

@Suite("A database outage under a running server")
struct DatabaseOutageTests {
    @Test func readinessFollowsTheDatabaseDownAndBackUp() async throws {
        if ProcessInfo.processInfo.environment["TEST_DATABASE_URL"] != nil {
            // This test needs a server of its own to kill; it only runs with throwaway clusters.
            return
        }
        // A cluster of its own: stopping the shared one would break the tests running beside this.
        let cluster = try ThrowawayCluster.start()
        defer { cluster.destroy() }
        let pool = PostgresPool(
            configuration: .init(connectionString: cluster.connectionString, maxConnections: 2),
            logger: TestPostgres.logger
        )
        try await withApp(database: pool) { client in
            #expect(try await client.send(.get, "/readyz").status == .ok)
            try cluster.stopServer()
            try await Task.sleep(for: HealthTests.readinessAge)
            for _ in 0..<3 {
                #expect(try await client.send(.get, "/readyz").status == .serviceUnavailable)
            }
            #expect(try await client.send(.get, "/healthz").status == .ok)
            try cluster.startServer()
            try await Task.sleep(for: HealthTests.readinessAge)
            #expect(try await client.send(.get, "/readyz").status == .ok)
        }
        await pool.close()
    }
}
