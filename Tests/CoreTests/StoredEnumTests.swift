import CustodianCore
import Postgres
import TestSupport
import Testing

/// A value the code does not know, read from the database, is an error — never a valid-looking
/// default (an unknown case status read as "received" would reopen a closed legal case).
@Suite("Stored enums decode exactly or not at all")
struct StoredEnumTests {
    @Test func anUnknownStoredValueThrowsAndAKnownOneDecodes() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool { pool in
                let row = try await pool.query(
                    "SELECT 'in_progress'::text AS known, 'reopened'::text AS unknown, NULL::text AS absent"
                ).single()
                #expect(try row.decode("known", as: RequestCases.Status.self) == .inProgress)
                let error = try #require(throws: RowDecodingError.self) { try row.decode("unknown", as: RequestCases.Status.self) }
                guard case .cell(let column, _, _, .invalidValue) = error else {
                    Issue.record("expected an invalid value, got \(error)")
                    return
                }
                #expect(column == "unknown")
                #expect(throws: RowDecodingError.self) { try row.decode("unknown", as: RequestCases.RefusalCode?.self) }
                #expect(try row.decode("absent", as: RequestCases.RefusalCode?.self) == nil)
                #expect(throws: RowDecodingError.self) { try row.decode("unknown", as: StaffRole.self) }
                #expect(throws: RowDecodingError.self) { try row.decode("unknown", as: ConsentLedger.Action.self) }
            }
        }
    }

    /// Arrays of names (a webhook's events, the request kinds offered, the policies a session must
    /// accept) are held to the same rule: one unknown name fails the row instead of vanishing.
    @Test func anUnknownNameInAStoredListThrows() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool { pool in
                let row = try await pool.query(
                    """
                    SELECT '["access", "erasure"]'::jsonb AS known, '["access", "teleportation"]'::jsonb AS unknown,
                           '["consent.given", "consent.forged"]'::jsonb AS events
                    """
                ).single()
                #expect(try row.decodeNames("known", as: RequestCases.Kind.self) == [.access, .erasure])
                #expect(throws: RowDecodingError.self) { try row.decodeNames("unknown", as: RequestCases.Kind.self) }
                #expect(throws: RowDecodingError.self) { try row.decodeNames("events", as: EventType.self) }
                #expect(throws: RowDecodingError.self) { try row.decodeNames("unknown", as: Policies.Kind.self) }
            }
        }
    }
}
