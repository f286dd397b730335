import CustodianCore
import Foundation
import JSONText
import Postgres
import Synchronization

/// Fixed-window request counting per client, shared by every API instance through PostgreSQL,
/// with an in-process count in front: a client already over the limit on this instance is over
/// it everywhere, and is refused without a database round trip. Addresses are stored as a keyed
/// hash (`ServerSecret.Use.clientAddress`).
///
/// An instance takes hits from PostgreSQL in batches of `batch` (limit / 20, at most 32) and
/// admits them locally: a busy client costs one row update per batch instead of one per request,
/// and all of one client's requests no longer queue on that one row. Hits an instance took but
/// did not use count against the client: with several instances, a client may be refused early
/// by up to 5% of the limit per other instance; never late.
public final class RateLimiter: Sendable {
    let database: PostgresPool
    let addressKey: ServerSecret
    /// Requests allowed per window and client.
    public let limit: Int
    public let window: Duration
    private let local: Mutex<LocalWindow>

    /// This instance's counts for the current window; forgotten whole when the window ends.
    struct LocalWindow {
        var start: Int64 = 0
        var counts: [String: Int] = [:]
        /// Hits taken from PostgreSQL and not yet used, per bucket.
        var unused: [String: Int] = [:]
    }

    /// Hits taken from PostgreSQL at a time.
    var batch: Int { max(1, min(32, limit / 20)) }

    /// Clients tracked in process per window; beyond that, new ones are counted in PostgreSQL only.
    static let localCapacity = 100_000

    public init(database: PostgresPool, addressKey: ServerSecret, limit: Int, window: Duration = .seconds(60)) {
        self.database = database
        self.addressKey = addressKey
        self.limit = limit
        self.window = window
        self.local = Mutex(LocalWindow())
    }

    public enum Decision: Sendable, Equatable {
        case allowed
        /// Refused; retry after this many seconds (when the window ends).
        case refused(retryAfterSeconds: Int)
    }

    private var windowSeconds: Int64 { max(1, window.components.seconds) }

    /// Counts one request of `client` in this instance only, and refuses it when this instance
    /// alone has seen more than the limit. For requests refused before they reach the database.
    public func countLocally(scope: String, client: String) -> Decision {
        let now = Self.secondsNow()
        let start = windowStart(at: now)
        let count = local.withLock { window -> Int in
            if window.start != start {
                window = LocalWindow(start: start)
            }
            let key = scope + ":" + client
            guard let current = window.counts[key] else {
                guard window.counts.count < Self.localCapacity else { return 0 }
                window.counts[key] = 1
                return 1
            }
            window.counts[key] = current + 1
            return current + 1
        }
        guard count > limit else { return .allowed }
        return .refused(retryAfterSeconds: Int(max(1, start + windowSeconds - now)))
    }

    /// Counts one request of `client` in `scope`, here and in PostgreSQL, and says whether it is
    /// within the limit.
    public func hit(scope: String, client: String) async throws -> Decision {
        if case .refused(let seconds) = countLocally(scope: scope, client: client) {
            return .refused(retryAfterSeconds: seconds)
        }
        let bucket = scope + ":" + addressKey.addressHash(client)
        if takeUnused(bucket) { return .allowed }
        let taking = batch
        let row = try await database.query(
            """
            WITH current AS (
                SELECT to_timestamp(floor(extract(epoch FROM now()) / $2::integer) * $2::integer) AS start
            ), counted AS (
                INSERT INTO rate_limit_hits (bucket, window_start, hits)
                SELECT $1, start, $3 FROM current
                ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limit_hits.hits + $3
                RETURNING hits, window_start
            )
            SELECT hits, ceil(extract(epoch FROM window_start + $2::integer * interval '1 second' - now()))::integer AS remaining
            FROM counted
            """,
            [bucket, Int(windowSeconds), taking]
        ).single()
        let hits: Int = try row.decode("hits")
        // Of the hits just taken, those within the limit may be used: this one, and the rest later.
        let granted = min(taking, limit - (hits - taking))
        guard granted > 0 else { return .refused(retryAfterSeconds: max(1, try row.decode("remaining"))) }
        if granted > 1 { keepUnused(bucket, granted - 1) }
        return .allowed
    }

    private func takeUnused(_ bucket: String) -> Bool {
        let start = windowStart(at: Self.secondsNow())
        return local.withLock { window in
            guard window.start == start, let unused = window.unused[bucket], unused > 0 else { return false }
            window.unused[bucket] = unused - 1
            return true
        }
    }

    private func keepUnused(_ bucket: String, _ hits: Int) {
        let start = windowStart(at: Self.secondsNow())
        local.withLock { window in
            guard window.start == start, window.unused.count < Self.localCapacity else { return }
            window.unused[bucket, default: 0] += hits
        }
    }

    private static func secondsNow() -> Int64 {
        Int64(Date().timeIntervalSince1970)
    }

    /// The start of this instance's window holding `second`.
    private func windowStart(at second: Int64) -> Int64 {
        second - second % windowSeconds
    }

    /// Removes counts of windows that ended a while ago (by the window_start index).
    @discardableResult
    public func sweep() async throws -> Int {
        try await database.execute(
            "DELETE FROM rate_limit_hits WHERE window_start < now() - $1::integer * interval '1 second'", [Int(windowSeconds) * 5]
        )
    }
}
