import CustodianCore
import CustodianHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The backend running an erasure is killed with SIGKILL half way through (its consent history
/// and notes deleted, its lead not yet): PostgreSQL restarts, and the person is whole again.
@Suite("A crash in the middle of an erasure")
struct ErasureCrashTests {
    @Test func killingTheBackendMidErasureLeavesThePersonWhole() async throws {
        if ProcessInfo.processInfo.environment["TEST_DATABASE_URL"] != nil {
            // This test kills a server process of its own; it only runs with throwaway clusters.
            return
        }
        let cluster = try ThrowawayCluster.start(durableCommits: true)
        defer { cluster.destroy() }
        let database = try await TestPostgres.migratedDatabase(on: cluster.connectionString)
        // No lock timeout: the erasure waits, at a known point, for as long as the test holds it there.
        try await database.withPool(role: .api, limits: .unlimited) { pool in
            let admin = try await StaffDirectory(database: pool).bootstrapKey(staffName: "Ada", email: nil, role: .admin, keyName: "t").key
            try await withApp(database: pool, settings: ErasureTests.settings) { client in
                let lead = try #require(
                    try await client.create(
                        "/v1/leads", key: admin, #"{"name": "Whole Person", "email": "whole-\#(UUID())@crash.example"}"#)["id"] as? String)
                let purpose = try #require(
                    try await client.create(
                        "/v1/consent-purposes", key: admin,
                        #"{"name": "Calls", "description": "Phone calls.", "lawful_basis": "consent", "applies_to": "both"}"#
                    )["id"] as? String)
                for action in ["give", "withdraw", "give"] {
                    _ = try await client.create(
                        "/v1/leads/\(lead)/consents", key: admin, #"{"purpose_id": "\#(purpose)", "action": "\#(action)"}"#)
                }
                _ = try await client.create("/v1/leads/\(lead)/notes", key: admin, #"{"text": "still here"}"#)
                let erasure = try await client.openErasure(subjectType: "lead", subjectID: lead, key: admin)
                try await client.startErasure(erasure, key: admin)

                let inspector = database.makePool(limits: .unlimited)
                let before = try await Self.snapshot(lead: lead, in: inspector)
                #expect(before.contains { $0.hasPrefix("consent_records:") })

                // The erasure goes through webhook_events after the consent history and notes, and
                // before the lead: a lock held on one of the person's events stops it right there.
                let holder = database.makePool(maxConnections: 1, limits: .unlimited)
                let locked = AsyncStream<Void>.makeStream()
                let holding = Task {
                    try await holder.transaction { transaction in
                        try await transaction.execute("SELECT 1 FROM webhook_events WHERE subject_id = $1::uuid FOR UPDATE", [lead])
                        locked.continuation.yield()
                        try await transaction.execute("SELECT pg_sleep(60)")
                    }
                }
                var signals = locked.stream.makeAsyncIterator()
                _ = await signals.next()
                let erasing = Task { try await client.send(.post, "/v1/requests/\(erasure)/erase", headers: headers(key: admin)) }

                var backend: Int32 = 0
                try await TestPostgres.waitUntil(timeout: .seconds(30)) {
                    let rows = try await inspector.query(
                        """
                        SELECT pid FROM pg_stat_activity
                        WHERE wait_event_type = 'Lock' AND query LIKE '%DELETE FROM "webhook_events"%'
                        """
                    )
                    backend = try rows.first?.decode("pid") ?? 0
                    return backend != 0
                }
                #expect(kill(backend, SIGKILL) == 0)

                let interrupted = try await erasing.value
                #expect(interrupted.status == .serviceUnavailable, "\(interrupted.text)")
                _ = try? await holding.value
                await holder.close()

                // The server restarts after a crash of one of its processes; then the person is whole.
                try await TestPostgres.waitUntil(timeout: .seconds(60)) {
                    (try? await inspector.query("SELECT 1")) != nil
                }
                #expect(try await Self.snapshot(lead: lead, in: inspector) == before)
                let tombstones: Int = try await inspector.query("SELECT count(*) AS n FROM erasure_tombstones").single().decode("n")
                #expect(tombstones == 0)

                // And the erasure can simply be run again.
                try await TestPostgres.waitUntil(timeout: .seconds(30)) {
                    try await client.send(.post, "/v1/requests/\(erasure)/erase", headers: headers(key: admin)).status == .ok
                }
                #expect(try await client.send(.get, "/v1/leads/\(lead)", headers: headers(key: admin)).status == .notFound)
                await inspector.close()
            }
        }
    }

    /// Every row naming the person, and the row count of every table.
    private static func snapshot(lead: String, in pool: PostgresPool) async throws -> [String] {
        var rows: [String] = []
        for (table, column) in [
            ("leads", "id"), ("lead_notes", "lead_id"), ("consent_records", "lead_id"), ("request_cases", "subject_id"),
            ("webhook_events", "subject_id"),
        ] {
            rows += try await DatabaseInspection.rows(of: table, where: column, is: lead, in: pool).map { "\(table): \($0)" }
        }
        let counts = try await DatabaseInspection.rowCounts(in: pool)
        return rows + counts.sorted { $0.key < $1.key }.map { "\($0.key) = \($0.value)" }
    }
}
