import Postgres
import TestSupport
import Testing

@Suite("Every column is classified in the personal-data map")
struct PersonalDataMapTests {
    @Test func everyColumnHasAClassificationAndEveryClassificationAColumn() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool { pool in
                let unclassified = try await pool.query(
                    """
                    SELECT c.table_name || '.' || c.column_name AS name
                    FROM information_schema.columns c
                    JOIN information_schema.tables t USING (table_schema, table_name)
                    WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
                      AND NOT EXISTS (
                          SELECT 1 FROM personal_data_map m
                          WHERE m.table_name = c.table_name AND m.column_name = c.column_name)
                    ORDER BY 1
                    """
                ).map { try $0.decode("name", as: String.self) }
                #expect(unclassified == [], "classify these columns in the migration that adds them")

                let stale = try await pool.query(
                    """
                    SELECT m.table_name || '.' || m.column_name AS name
                    FROM personal_data_map m
                    WHERE NOT EXISTS (
                        SELECT 1 FROM information_schema.columns c
                        WHERE c.table_schema = 'public' AND c.table_name = m.table_name AND c.column_name = m.column_name)
                    ORDER BY 1
                    """
                ).map { try $0.decode("name", as: String.self) }
                #expect(stale == [], "these classifications name columns that do not exist")
            }
        }
    }

    @Test func theCheckCatchesANewUnclassifiedColumn() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool { pool in
                try await pool.execute("ALTER TABLE staff ADD COLUMN nickname text")
                let unclassified: Int = try await pool.query(
                    """
                    SELECT count(*) AS n FROM information_schema.columns c
                    WHERE c.table_schema = 'public' AND c.table_name = 'staff' AND NOT EXISTS (
                        SELECT 1 FROM personal_data_map m WHERE m.table_name = c.table_name AND m.column_name = c.column_name)
                    """
                ).single().decode("n")
                #expect(unclassified == 1)
            }
        }
    }

    @Test func theMapRefusesIncoherentClassifications() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool { pool in
                // Personal data needs a subject; kept data needs a legal basis.
                for values in [
                    "('staff', 'x1', 'name', NULL, 'clear', NULL)",
                    "('staff', 'x2', 'name', 'staff', 'keep', NULL)",
                    "('staff', 'x3', 'not_personal', NULL, 'clear', NULL)",
                    "('staff', 'x4', 'gossip', 'staff', 'clear', NULL)",
                ] {
                    let error = try await #require(throws: PostgresError.self) {
                        try await pool.execute(
                            "INSERT INTO personal_data_map (table_name, column_name, category, subject, erasure, legal_basis) VALUES \(values)"
                        )
                    }
                    #expect(error.kind == .checkViolation)
                }
            }
        }
    }
}
