import Postgres
import Synchronization

/// The trigrams most of a table's search texts share, as the database's statistics last saw them
/// (migration 0037), kept for ten minutes: they change with ANALYZE, and a search should not pay
/// a round trip to ask. Wrong or stale, they cost only speed (see `SearchIndexParts`).
final class CommonSearchTrigrams: Sendable {
    static let lifetime = Duration.seconds(600)

    let table: String
    private let cached = Mutex<(fetchedAt: ContinuousClock.Instant, trigrams: Set<String>)?>(nil)

    init(table: String) {
        self.table = table
    }

    func trigrams(on database: some Queryable) async throws -> Set<String> {
        let now = ContinuousClock.now
        if let cached = cached.withLock({ $0 }), now - cached.fetchedAt < Self.lifetime { return cached.trigrams }
        let rows = try await database.query("SELECT public.common_search_trigrams($1) AS trigram", [table])
        let trigrams = Set(try rows.map { try $0.decode("trigram", as: String.self) })
        cached.withLock { $0 = (now, trigrams) }
        return trigrams
    }
}
