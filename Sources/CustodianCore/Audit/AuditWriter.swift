import Foundation
import JSONText
import Postgres
import Synchronization

/// Writes the entries of reads the way PostgreSQL commits transactions: in groups. Each read
/// waits until its entry is committed (before its answer goes out), but the entries of reads
/// that arrive while groups are being written go together in the next INSERT and commit. One
/// INSERT and commit per read cost the database a quarter of its read rate (a measured 99,000
/// plain reads per second against 25,000 reads with an entry each); a group costs about one.
public final class AuditWriter: Sendable {
    private struct Waiting {
        let entry: JSONValue
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var waiting: [Waiting] = []
        var writers = 0
    }

    private let state = Mutex(State())
    let database: PostgresPool

    /// The most entries one INSERT takes; more wait for the next.
    static let groupLimit = 1000
    /// Groups written at once, each on its own connection: a read that arrives while one is
    /// written starts the next at once instead of waiting for the first (its answer waits for
    /// one round trip, not two).
    static let concurrentGroups = 3

    public init(database: PostgresPool) { self.database = database }

    /// Returns once `entry` is committed.
    func write(_ entry: JSONValue) async throws {
        try await withCheckedThrowingContinuation { continuation in
            let starts = state.withLock { state in
                state.waiting.append(Waiting(entry: entry, continuation: continuation))
                guard state.writers < Self.concurrentGroups else { return false }
                state.writers += 1
                return true
            }
            if starts { Task { await self.drain() } }
        }
    }

    /// Writes groups until nobody waits.
    private func drain() async {
        while true {
            let group = state.withLock { state in
                let group = Array(state.waiting.prefix(Self.groupLimit))
                state.waiting.removeFirst(group.count)
                if group.isEmpty { state.writers -= 1 }
                return group
            }
            guard !group.isEmpty else { return }
            do {
                try await insert(group.map(\.entry))
                for waiting in group { waiting.continuation.resume() }
            } catch {
                for waiting in group { waiting.continuation.resume(throwing: error) }
            }
        }
    }

    /// The group is committed (visible to every session at once) without waiting for the WAL to
    /// reach the disk: that wait (a disk flush per group, on this machine about as long as the
    /// read itself) would be every read's. A crash of PostgreSQL may lose the entries of the last
    /// fraction of a second (`wal_writer_delay`, 200 ms by default); changes are not affected
    /// (their entries are part of their own, durable transactions).
    private func insert(_ entries: [JSONValue]) async throws {
        // The entries name their actors themselves: no transaction carrying one around them.
        try await PostgresSession.$transactionSettings.withValue(.none) {
            try await database.execute(
                """
                INSERT INTO audit_entries
                    (action, object, actor_type, staff_id, key_id, session_id, link_id, route, request_id, client_ip, subject_ids)
                SELECT e.action, e.object, e.actor_type, e.staff_id, e.key_id, e.session_id, e.link_id, e.route, e.request_id,
                       e.client_ip, e.subject_ids::uuid[]
                FROM jsonb_to_recordset($1::jsonb) AS e (
                    action text, object text, actor_type text, staff_id uuid, key_id uuid, session_id uuid, link_id uuid,
                    route text, request_id text, client_ip text, subject_ids text)
                WHERE set_config('synchronous_commit', 'off', true) IS NOT NULL
                """,
                [JSONValue.array(entries)]
            )
        }
    }
}
