import Foundation
import Postgres

/// Change feeds for integrators: every lead, contact or customer changed since a cursor, in the
/// shape the API's GET gives, or a tombstone line for one deleted or erased, or a `restricted`
/// line for one whose processing was restricted (and an upsert again when that is lifted). The
/// consents feed serves people (leads and contacts with a consent history) the same way, each
/// line their state per purpose (`FeedSource.consents`).
///
/// Sequence values are not commit order: a transaction that began early may commit after others
/// that took later ids. So triggers note each change with its transaction id (`feed_changes`),
/// a poll reads in one snapshot and serves the changes of transactions that snapshot sees as
/// committed, and the cursor carries that snapshot: the next poll serves what it saw and the last
/// one did not. A change is never missed (its transaction is either visible to a poll or still
/// running, and then visible to a later one) and never served twice (visible once, it stays so).
public struct Feeds: Sendable {
    public enum Feed: String, Sendable, CaseIterable {
        case leads, contacts, customers, consents

        /// The cursor's byte for this feed.
        var code: UInt8 {
            switch self {
            case .leads: 1
            case .contacts: 2
            case .customers: 3
            case .consents: 4
            }
        }
    }

    /// How long changes are kept; a cursor older than that must start again.
    public static let retention: Duration = .seconds(30 * 24 * 3600)

    let database: PostgresPool

    public init(database: PostgresPool) { self.database = database }

    public enum Refusal: Error, Equatable {
        /// The cursor names changes older than those kept (410).
        case expired
        /// The cursor names a snapshot this database has not reached (400): not one it issued.
        case unknown
    }

    /// The snapshot a poll reads in, and the horizon of the changes kept.
    static let facts = "SELECT pg_current_snapshot()::text AS now, purged_below::text AS purged FROM feed_horizon"

    /// Refuses a cursor the feed cannot continue from, before the answer starts.
    public func check(_ cursor: FeedCursor) async throws {
        let facts = try await database.query(
            Self.facts
        ).single()
        try Self.check(cursor, now: try Self.snapshot(facts), purgedBelow: try Self.purgedBelow(facts))
    }

    static func check(_ cursor: FeedCursor, now: FeedSnapshot, purgedBelow: UInt64) throws {
        for case let served? in cursor.ranges.map(\.served) {
            if served.xmax > now.xmax { throw Refusal.unknown }
            if served.xmin < purgedBelow { throw Refusal.expired }
        }
    }

    /// Writes the poll as JSON Lines through `write`, in chunks of about 64 KiB. Returns the
    /// poller's lag: how long ago the oldest change it had not been served was made (0 when it
    /// had seen everything; nil for a first poll, which serves a snapshot).
    @discardableResult
    public func poll(from cursor: FeedCursor, write: (ArraySlice<UInt8>) async throws -> Void) async throws -> Duration? {
        try await database.transaction(isolation: .repeatableRead, readOnly: true) { transaction in
            let facts = try await transaction.query(
                Self.facts
            ).single()
            let now = try Self.snapshot(facts)
            try Self.check(cursor, now: now, purgedBelow: try Self.purgedBelow(facts))
            let lag = try await Self.lag(of: cursor, in: transaction)
            let source = FeedSource(cursor.feed)
            let (sql, parameters) = Self.changes(since: cursor, source: source)
            try await transaction.execute("DECLARE feed_rows NO SCROLL CURSOR FOR " + sql, parameters)
            var out = ChunkedOutput()
            var position = cursor
            // The next batch is fetched while this one is written: PostgreSQL and this process
            // work side by side.
            var next = Task { try await transaction.query("FETCH \(Self.batch) FROM feed_rows") }
            while true {
                let rows = try await next.value
                let more = rows.count == Self.batch
                if more { next = Task { try await transaction.query("FETCH \(Self.batch) FROM feed_rows") } }
                do {
                    // What this batch serves of people is in the audit trail before its bytes go out
                    // (written on another connection: this transaction only reads).
                    let served = rows.compactMap { row in
                        row.text(at: 1) == "t" && row.text(at: 3) != "t" ? row.text(at: 0).flatMap { UUID(uuidString: $0) } : nil
                    }
                    try await AuditTrail.record(.feed, object: cursor.feed.rawValue, subjects: served)
                    for row in rows {
                        let id = try FeedLines.required(row, 0)
                        guard let uuid = UUID(postgresText: id, type: .uuid) else { throw DomainError.conflict("unreadable id") }
                        position = position.served(through: uuid, at: now)
                        try await out.append(flush: write) { output in
                            if row.text(at: 3) == "t" {
                                FeedLines.restricted(id: id, cursor: position, into: &output)
                            } else if row.text(at: 1) == "t" {
                                try source.upsert(row, cursor: position, into: &output)
                            } else {
                                FeedLines.removal(erased: row.text(at: 2) == "t", id: id, cursor: position, into: &output)
                            }
                        }
                    }
                } catch {
                    // The session serves one statement at a time: the fetch under way ends first.
                    if more { _ = try? await next.value }
                    throw error
                }
                if !more { break }
            }
            try await transaction.execute("CLOSE feed_rows")
            try await out.append("{\"op\":\"checkpoint\",\"cursor\":\"\(FeedCursor.complete(cursor.feed, at: now).text)\"}\n", flush: write)
            try await out.finish(write)
            return lag
        }
    }

    /// The age of the oldest change the cursor's oldest snapshot did not see (by the entity and
    /// xid index); ranges served later may have seen it, so this errs towards more lag.
    static func lag(of cursor: FeedCursor, in transaction: PostgresSession) async throws -> Duration? {
        guard let oldest = cursor.ranges.compactMap(\.served).min(by: { $0.xmin < $1.xmin }) else { return nil }
        let row = try await transaction.query(
            """
            SELECT coalesce(extract(epoch FROM now() - min(f.changed_at)), 0)::float8 AS seconds FROM public.feed_changes f
            WHERE f.entity = $1 AND f.xid >= pg_snapshot_xmin($2::pg_snapshot) AND NOT pg_visible_in_snapshot(f.xid, $2::pg_snapshot)
            """, [cursor.feed.rawValue, oldest.text]
        ).single()
        return .milliseconds(max(0, Int64((try row.decode("seconds", as: Double.self) * 1000).rounded())))
    }

    static let batch = 4000

    /// The records to serve, in id order: those changed since their range was served, and every
    /// record of ranges never served; `present` is false for one that is gone.
    static func changes(since cursor: FeedCursor, source: FeedSource) -> (String, [any PostgresBindable]) {
        let feed = cursor.feed
        let table = source.from
        let columns = source.selectList
        if cursor.ranges == FeedCursor.start(feed).ranges {
            // A snapshot leaves out whom it may not process (GDPR Art. 18); lifting serves them later.
            return (
                """
                SELECT t.id AS feed_id, true AS present, false AS erased, false AS restricted, \(columns) FROM \(table) t
                WHERE \(Restrictions.notRestricted("t")) ORDER BY t.id
                """, []
            )
        }
        var parameters: [any PostgresBindable] = []
        var rows: [String] = []
        var lower: UUID?
        for range in cursor.ranges {
            parameters += [lower, range.upperBound, range.served?.text]
            let count = parameters.count
            rows.append("($\(count - 2)::uuid, $\(count - 1)::uuid, $\(count)::pg_snapshot)")
            lower = range.upperBound
        }
        let inRange = { (column: String) in
            "(r.lower_bound IS NULL OR \(column) > r.lower_bound) AND (r.upper_bound IS NULL OR \(column) <= r.upper_bound)"
        }
        let sql = """
            WITH cursor_ranges (lower_bound, upper_bound, served) AS (VALUES \(rows.joined(separator: ", "))),
            touched AS (
                SELECT f.record_id AS id FROM feed_changes f JOIN cursor_ranges r ON \(inRange("f.record_id"))
                WHERE f.entity = '\(feed.rawValue)' AND r.served IS NOT NULL
                  AND f.xid >= pg_snapshot_xmin(r.served) AND NOT pg_visible_in_snapshot(f.xid, r.served)
                UNION
                SELECT t.id FROM \(table) t JOIN cursor_ranges r ON \(inRange("t.id")) WHERE r.served IS NULL
            )
            SELECT x.id AS feed_id, t.id IS NOT NULL AS present,
                   t.id IS NULL AND EXISTS (SELECT 1 FROM erasure_tombstones e WHERE e.subject_id = x.id) AS erased,
                   coalesce(t.restricted, false) AS restricted, \(columns)
            FROM touched x LEFT JOIN \(table) t ON t.id = x.id
            ORDER BY x.id
            """
        return (sql, parameters)
    }

    /// Removes changes older than `retention` and moves the horizon past the last one removed;
    /// returns how many. A cursor is refused only when it could need a removed change: its
    /// snapshot's xmin is at or below that change's transaction. (A transaction still running
    /// cannot lose a change: its rows are not visible to the DELETE.)
    @Sendable public func purge() async throws -> Int {
        try await database.transaction { transaction in
            let gone = try await transaction.query(
                """
                WITH removed AS (
                    DELETE FROM feed_changes WHERE changed_at < now() - $1::interval RETURNING xid
                )
                SELECT count(*)::int AS removed, max(xid)::text AS last FROM removed
                """, ["\(Int(Self.retention.components.seconds)) seconds"]
            ).single()
            if let last = try gone.decode("last", as: String?.self).flatMap(UInt64.init) {
                try await transaction.execute(
                    "UPDATE feed_horizon SET purged_below = $1::xid8 WHERE purged_below < $1::xid8", [String(last + 1)])
            }
            return try gone.decode("removed")
        }
    }

    private static func snapshot(_ row: Row) throws -> FeedSnapshot {
        guard let snapshot = FeedSnapshot(text: try row.decode("now")) else { throw DomainError.conflict("unreadable snapshot") }
        return snapshot
    }

    private static func purgedBelow(_ row: Row) throws -> UInt64 {
        UInt64(try row.decode("purged", as: String.self)) ?? 0
    }
}
