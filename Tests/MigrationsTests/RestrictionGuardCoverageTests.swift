import Postgres
import TestSupport
import Testing

/// A restriction (GDPR Art. 18) holds in the database: every table that holds a person's rows
/// either has a restriction guard or is one of the tables that serve the person's own rights and
/// the system's bookkeeping, named here with the reason. A table a later migration adds about a
/// person fails this test until it says which.
@Suite("Every table about a person is guarded against processing while they are restricted")
struct RestrictionGuardCoverageTests {
    /// Tables that may change while the person is restricted, and why.
    static let unguarded: [String: String] = [
        "request_cases": "the person's requests go on: they are how rights are exercised",
        "request_attachments": "an access or portability answer for the person",
        "exports": "the log of exports, which a restriction does not stop (Art. 15, 20)",
        "corrections": "written by a trigger when a guarded record changes",
        "idempotency_keys": "stored answers of creates that were allowed",
        "webhook_events": "the events of what was allowed",
        "web_form_submissions": "a new lead, never a restricted one",
        "portal_accounts": "the person's own logins",
        "portal_sessions": "the person's own sessions",
        "restrictions": "the restrictions themselves",
        "feed_changes": "bookkeeping of the feeds",
        "legal_holds": "a hold keeps data and processes none: it may be placed on a restricted person",
    ]

    @Test func everyOwnedTableIsGuardedOrNamedWithItsReason() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool { pool in
                let tables = try await pool.query(
                    """
                    SELECT DISTINCT o.table_name,
                           EXISTS (SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                                   JOIN pg_proc p ON p.oid = t.tgfoid
                                   WHERE c.relname = o.table_name AND c.relnamespace = 'public'::regnamespace
                                     AND p.proname IN ('records_restriction_guard', 'processing_restriction_guard')) AS guarded
                    FROM personal_data_owners o ORDER BY 1
                    """
                ).map { (try $0.decode("table_name", as: String.self), try $0.decode("guarded", as: Bool.self)) }
                #expect(tables.count > 10)
                for (table, guarded) in tables {
                    #expect(guarded || Self.unguarded[table] != nil, "\(table): add a restriction guard, or say here why it needs none")
                    #expect(!(guarded && Self.unguarded[table] != nil), "\(table) is guarded and listed as unguarded")
                }
            }
        }
    }
}
