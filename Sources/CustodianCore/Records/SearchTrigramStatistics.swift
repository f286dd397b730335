import Postgres
import Synchronization

/// How often trigrams occur in a table's search texts, as the database's statistics last saw them
/// (migration 0037), kept for ten minutes: they change with ANALYZE, and a search should not pay
/// a round trip to ask. Wrong or stale, they cost only speed (see `SearchIndexParts`).
final class SearchTrigramStatistics: Sendable {
    static let lifetime = Duration.seconds(600)

    let table: String
    private let cached = Mutex<(fetchedAt: ContinuousClock.Instant, frequencies: TrigramFrequencies)?>(nil)

    init(table: String) {
        self.table = table
    }

    func frequencies(on database: some Queryable) async throws -> TrigramFrequencies {
        let now = ContinuousClock.now
        if let cached = cached.withLock({ $0 }), now - cached.fetchedAt < Self.lifetime { return cached.frequencies }
        let rows = try await database.query("SELECT trigram, frequency FROM public.search_trigram_frequencies($1)", [table])
        var listed: [String: Double] = [:]
        for row in rows { listed[try row.decode("trigram")] = try row.decode("frequency", as: Double.self) }
        let frequencies = TrigramFrequencies(listed: listed)
        cached.withLock { $0 = (now, frequencies) }
        return frequencies
    }
}

/// The share of search texts holding each trigram: those the statistics list, and for any other
/// no more than the rarest listed (the statistics list the most common ones).
struct TrigramFrequencies: Sendable {
    let listed: [String: Double]
    let unlisted: Double

    init(listed: [String: Double]) {
        self.listed = listed
        self.unlisted = listed.values.min() ?? 1
    }

    func of(_ trigram: String) -> Double { listed[trigram] ?? unlisted }
}
