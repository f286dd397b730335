import Postgres
import TestSupport
import Testing

/// What an erasure needs of the schema, checked for every table a migration adds: it knows whose
/// rows they are, can write what it must write, may do it as the API role, and is never stopped by
/// a reference it does not follow.
@Suite("Every person's data can be erased")
struct ErasureCoverageTests {
    static let unownedTables = """
        SELECT DISTINCT m.table_name AS name FROM personal_data_map m
        WHERE m.subject IN ('lead', 'contact', 'customer', 'person') AND m.erasure IN ('delete_row', 'clear', 'anonymise')
          AND NOT EXISTS (SELECT 1 FROM personal_data_owners o WHERE o.table_name = m.table_name)
        ORDER BY 1
        """

    static let blockingReferences = """
        WITH deleting AS (
            SELECT DISTINCT m.table_name FROM personal_data_map m
            JOIN personal_data_owners o USING (table_name)
            WHERE m.erasure = 'delete_row' AND m.subject IS DISTINCT FROM 'staff'
        )
        SELECT child.relname || ' -> ' || parent.relname AS name
        FROM pg_constraint c
        JOIN pg_class child ON child.oid = c.conrelid
        JOIN pg_class parent ON parent.oid = c.confrelid
        WHERE c.contype = 'f' AND parent.relname IN (SELECT table_name FROM deleting)
          AND c.confdeltype NOT IN ('c', 'n', 'd')
          AND child.relname NOT IN (SELECT table_name FROM deleting)
        ORDER BY 1
        """

    private func names(_ sql: String) async throws -> [String] {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool { pool in
                try await pool.query(sql).map { try $0.decode("name", as: String.self) }
            }
        }
    }

    @Test func everyTableWithAPersonsErasableDataSaysWhoseRowsTheyAre() async throws {
        let unowned = try await names(
            Self.unownedTables)
        #expect(unowned == [], "add rows to personal_data_owners for these tables")
    }

    @Test func ownersNameColumnsThatExist() async throws {
        let missing = try await names(
            """
            SELECT o.table_name || '.' || c.column_name AS name
            FROM personal_data_owners o, LATERAL (VALUES (o.owner_column), (o.kind_column)) AS c (column_name)
            WHERE c.column_name IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM information_schema.columns i
                WHERE i.table_schema = 'public' AND i.table_name = o.table_name AND i.column_name = c.column_name)
            ORDER BY 1
            """)
        #expect(missing == [])
    }

    @Test func everyValueErasureClearsCanBeCleared() async throws {
        // Clearing writes NULL, or the default where NULL is not allowed.
        let stuck = try await names(
            """
            SELECT c.table_name || '.' || c.column_name AS name
            FROM personal_data_map m
            JOIN information_schema.columns c ON c.table_schema = 'public' AND c.table_name = m.table_name AND c.column_name = m.column_name
            WHERE (m.erasure = 'clear' OR m.keep_condition IS NOT NULL) AND c.is_nullable = 'NO' AND c.column_default IS NULL
            ORDER BY 1
            """)
        #expect(stuck == [])
    }

    @Test func noReferenceStopsAnErasureFromDeletingRows() async throws {
        // Rows an erasure deletes may be referenced only by rows it deletes first, or by a
        // reference that cascades or sets null.
        let blocking = try await names(
            Self.blockingReferences)
        #expect(blocking == [])
    }

    @Test func aPersonsRowsAreFoundByIndex() async throws {
        // Erasing one person must not read whole tables: every owner column leads an index.
        let unindexed = try await names(
            """
            SELECT o.table_name || '.' || o.owner_column AS name FROM personal_data_owners o
            WHERE NOT EXISTS (
                SELECT 1 FROM pg_index i
                JOIN pg_class t ON t.oid = i.indrelid AND t.relname = o.table_name AND t.relnamespace = 'public'::regnamespace
                JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                WHERE a.attname = o.owner_column)
            ORDER BY 1
            """)
        #expect(unindexed == [])
    }

    @Test func theAPIRoleMayDoWhatAnErasureDoes() async throws {
        let lacking = try await names(
            """
            WITH needs AS (
                SELECT o.table_name, CASE
                    WHEN bool_or(m.erasure = 'delete_row') THEN 'DELETE'
                    WHEN bool_or(m.erasure IN ('clear', 'anonymise') OR m.keep_condition IS NOT NULL) THEN 'UPDATE'
                    ELSE 'SELECT' END AS privilege
                FROM personal_data_owners o
                JOIN personal_data_map m ON m.table_name = o.table_name AND m.subject IS DISTINCT FROM 'staff'
                GROUP BY o.table_name
            )
            SELECT n.table_name || ': ' || n.privilege AS name FROM needs n
            LEFT JOIN api_privileges p ON p.table_name = n.table_name
            WHERE p.privileges IS NULL OR NOT (p.privileges @> ARRAY[n.privilege, 'SELECT'])
            ORDER BY 1
            """)
        #expect(lacking == [])
    }

    @Test func theChecksFindATableAnErasureWouldMiss() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool { pool in
                try await pool.execute("CREATE TABLE diary (id uuid PRIMARY KEY, lead_id uuid REFERENCES leads (id), entry text)")
                try await pool.execute(
                    """
                    INSERT INTO personal_data_map (table_name, column_name, category, subject, erasure) VALUES
                        ('diary', 'id', 'not_personal', NULL, 'none'), ('diary', 'lead_id', 'identifier', 'lead', 'delete_row'),
                        ('diary', 'entry', 'free_text', 'lead', 'delete_row')
                    """)
                let unowned = try await pool.query(Self.unownedTables).map { try $0.decode("name", as: String.self) }
                #expect(unowned == ["diary"])
                let blocking = try await pool.query(Self.blockingReferences).map { try $0.decode("name", as: String.self) }
                #expect(blocking == ["diary -> leads"])
            }
        }
    }
}
