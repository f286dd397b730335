import Crypto
import Foundation
import Postgres

/// Fixed-window request counting in PostgreSQL, so every API instance shares one limit.
/// Addresses are stored hashed, and windows older than a few minutes are removed as new ones start.
public struct RateLimiter: Sendable {
    let database: PostgresPool
    /// Requests allowed per window and client.
    public let limit: Int
    public let window: Duration

    public init(database: PostgresPool, limit: Int, window: Duration = .seconds(60)) {
        self.database = database
        self.limit = limit
        self.window = window
    }

    public enum Decision: Sendable, Equatable {
        case allowed
        /// Refused; retry after this many seconds (when the window ends).
        case refused(retryAfterSeconds: Int)
    }

    /// Counts one request of `client` in `scope` and says whether it is within the limit.
    public func hit(scope: String, client: String) async throws -> Decision {
        let bucket = scope + ":" + Hex.encode(SHA256.hash(data: Data(client.utf8)).prefix(16))
        let seconds = Int(window.components.seconds)
        let row = try await database.query(
            """
            WITH current AS (
                SELECT to_timestamp(floor(extract(epoch FROM now()) / $2::integer) * $2::integer) AS start
            ), counted AS (
                INSERT INTO rate_limit_hits (bucket, window_start, hits)
                SELECT $1, start, 1 FROM current
                ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limit_hits.hits + 1
                RETURNING hits, window_start
            )
            SELECT hits, ceil(extract(epoch FROM window_start + $2::integer * interval '1 second' - now()))::integer AS remaining,
                   hits = 1 AS first_in_window
            FROM counted
            """,
            [bucket, seconds]
        ).single()
        if try row.decode("first_in_window", as: Bool.self) {
            try await database.execute(
                "DELETE FROM rate_limit_hits WHERE window_start < now() - $1::integer * interval '1 second'", [seconds * 5]
            )
        }
        let hits: Int = try row.decode("hits")
        guard hits > limit else { return .allowed }
        return .refused(retryAfterSeconds: max(1, try row.decode("remaining")))
    }
}
