import CustodianCore
import CustodianHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

@Suite("A held lock or a gone client never holds a request or a connection")
struct TimeLimitHTTPTests {
    @Test func aWriteBlockedByALockIsA503WithinTheLockTimeout() async throws {
        let limits = SessionLimits(statementTimeout: .seconds(10), lockTimeout: .milliseconds(300), idleInTransactionTimeout: nil)
        try await StaffFixture.withApp(limits: limits) { fixture, client in
            let lead = try #require(try await client.create("/v1/leads", key: fixture.adminKey, #"{"name": "Ada"}"#)["id"] as? String)
            try await fixture.database.withPool(role: .api, maxConnections: 1) { other in
                try await other.withConnection { holder in
                    try await holder.execute("BEGIN")
                    try await holder.execute("SELECT 1 FROM leads WHERE id = $1::uuid FOR UPDATE", [lead])
                    let started = ContinuousClock.now
                    let blocked = try await client.send(
                        .patch, "/v1/leads/\(lead)", headers: headers(key: fixture.adminKey, json: true), body: #"{"status": "won"}"#
                    )
                    #expect(blocked.status == .serviceUnavailable)
                    #expect(try blocked.json()["type"] as? String == "urn:custodian:problem:database-timeout")
                    #expect(blocked.headers[.retryAfter] == "1")
                    #expect(ContinuousClock.now - started < .seconds(3))
                    try await holder.execute("ROLLBACK")
                }
            }
            // Nothing was written; once the lock is gone the same write goes through.
            let read = try await client.send(.get, "/v1/leads/\(lead)", headers: headers(key: fixture.adminKey)).json()
            #expect(read["status"] as? String == "new")
            let retried = try await client.send(
                .patch, "/v1/leads/\(lead)", headers: headers(key: fixture.adminKey, json: true), body: #"{"status": "won"}"#
            )
            #expect(retried.status == .ok)
        }
    }

    @Test func aCancelledRequestFreesItsConnectionAtOnce() async throws {
        try await StaffFixture.withApp(limits: .unlimited) { fixture, client in
            let lead = try #require(try await client.create("/v1/leads", key: fixture.adminKey, #"{"name": "Ada"}"#)["id"] as? String)
            try await fixture.database.withPool(role: .api, maxConnections: 1) { other in
                try await other.withConnection { holder in
                    try await holder.execute("BEGIN")
                    try await holder.execute("SELECT 1 FROM leads WHERE id = $1::uuid FOR UPDATE", [lead])
                    // Without a lock timeout this request would wait for as long as the lock is held.
                    let request = Task {
                        try await client.send(
                            .patch, "/v1/leads/\(lead)", headers: headers(key: fixture.adminKey, json: true), body: #"{"status": "won"}"#
                        )
                    }
                    let waiting =
                        "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
                    try await TestPostgres.waitUntil { try await holder.query(waiting).single().decode("n", as: Int.self) == 1 }
                    request.cancel()
                    _ = try? await request.value
                    try await TestPostgres.waitUntil(timeout: .seconds(3)) {
                        try await holder.query(waiting).single().decode("n", as: Int.self) == 0 && fixture.pool.usage.lent == 0
                    }
                    try await holder.execute("ROLLBACK")
                }
            }
            let read = try await client.send(.get, "/v1/leads/\(lead)", headers: headers(key: fixture.adminKey)).json()
            #expect(read["status"] as? String == "new")
        }
    }
}
