import Foundation
import Postgres
import TestSupport
import Testing

/// A session of the API's role tries to fool the history guards with tables of its own named like
/// the ones they read. Without TEMPORARY it cannot make one; given TEMPORARY all the same, the
/// guards read their own schema's tables and the history stays whole.
@Suite("No session can shadow a table a guard reads")
struct GuardShadowingTests {
    /// A lead with one consent record, one correction and one policy acceptance.
    private func personWithHistory(_ fixture: StaffFixture, _ client: ContractClient) async throws -> String {
        let purpose = try await client.createPurpose(key: fixture.adminKey, name: "Newsletter")
        let lead = try #require(
            try await client.create("/v1/leads", key: fixture.adminKey, #"{"name": "Ada Lovelace", "email": "ada@example.org"}"#)["id"]
                as? String
        )
        _ = try await client.create(
            "/v1/leads/\(lead)/consents", key: fixture.adminKey, #"{"purpose_id": "\#(purpose)", "action": "give"}"#)
        try await fixture.pool.execute("UPDATE leads SET name = 'Ada King' WHERE id = $1::uuid", [lead])
        try await fixture.database.withPool { superuser in
            try await superuser.execute(
                """
                INSERT INTO policy_versions (kind, version, language, title, body, effective_at)
                VALUES ('privacy', 1, 'en', 'Privacy', 'We keep what you give us.', now())
                """
            )
            try await superuser.execute(
                """
                INSERT INTO policy_acceptances (subject_type, subject_id, kind, version, language, context)
                VALUES ('lead', $1::uuid, 'privacy', 1, 'en', 'privacy_centre')
                """,
                [lead]
            )
        }
        return lead
    }

    private func historyCounts(_ pool: PostgresPool, lead: String) async throws -> [Int] {
        var counts: [Int] = []
        for table in ["consent_records", "corrections", "policy_acceptances"] {
            let column = table == "consent_records" ? "lead_id" : "subject_id"
            counts.append(
                try await pool.query("SELECT count(*) AS n FROM public.\(table) WHERE \(column) = $1::uuid", [lead]).single().decode("n")
            )
        }
        return counts
    }

    /// The attack: a temporary erasure_tombstones with a "tombstone" for the person in this very
    /// transaction, then the person's history deleted, table by table.
    private func forgeTombstoneAndDelete(_ pool: PostgresPool, lead: String, from table: String) async throws {
        let column = table == "consent_records" ? "lead_id" : "subject_id"
        try await pool.transaction { transaction in
            try await transaction.execute(
                "CREATE TEMP TABLE erasure_tombstones (subject_type text, subject_id uuid, erasing_xact xid8) ON COMMIT DROP")
            try await transaction.execute(
                "INSERT INTO erasure_tombstones VALUES ('lead', $1::uuid, pg_current_xact_id())", [lead])
            try await transaction.execute("DELETE FROM \(table) WHERE \(column) = $1::uuid", [lead])
        }
    }

    @Test func theAPIRoleMayNotCreateTemporaryTables() async throws {
        try await StaffFixture.withApp { fixture, client in
            let lead = try await personWithHistory(fixture, client)
            #expect(try await historyCounts(fixture.pool, lead: lead) == [1, 1, 1])
            try await fixture.database.withPool(role: .api) { attacker in
                for table in ["consent_records", "corrections", "policy_acceptances"] {
                    let error = try await #require(throws: PostgresError.self, "\(table)") {
                        try await forgeTombstoneAndDelete(attacker, lead: lead, from: table)
                    }
                    #expect(error.sqlState == "42501", "\(table): \(error.sqlState ?? "")")
                }
            }
            #expect(try await historyCounts(fixture.pool, lead: lead) == [1, 1, 1])
        }
    }

    @Test func aRoleThatStillHasTemporaryCannotShadowTheTombstones() async throws {
        try await StaffFixture.withApp { fixture, client in
            let lead = try await personWithHistory(fixture, client)
            try await fixture.database.withPool { superuser in
                try await superuser.execute("GRANT TEMPORARY ON DATABASE \"\(fixture.database.name)\" TO \(TestRole.apiRoleName)")
            }
            try await fixture.database.withPool(role: .api) { attacker in
                for table in ["consent_records", "corrections", "policy_acceptances"] {
                    let error = try await #require(throws: PostgresError.self, "\(table)") {
                        try await forgeTombstoneAndDelete(attacker, lead: lead, from: table)
                    }
                    #expect(error.sqlState == "23001", "\(table): \(error.sqlState ?? "")")
                }
            }
            #expect(try await historyCounts(fixture.pool, lead: lead) == [1, 1, 1])
        }
    }

    @Test func aShadowedChainCannotForgeThePreviousRecord() async throws {
        try await StaffFixture.withApp { fixture, client in
            let purpose = try await client.createPurpose(key: fixture.adminKey, name: "Newsletter")
            let lead = try #require(try await client.create("/v1/leads", key: fixture.adminKey, #"{"name": "Ada"}"#)["id"] as? String)
            try await fixture.database.withPool { superuser in
                try await superuser.execute("GRANT TEMPORARY ON DATABASE \"\(fixture.database.name)\" TO \(TestRole.apiRoleName)")
            }
            // A temporary consent_records whose "newest record" would make the next one seq 1000.
            // Another session of the API's role: its temporary tables are its own.
            try await fixture.database.withPool(role: .api, maxConnections: 1) { attacker in
                try await attacker.transaction { transaction in
                    try await transaction.execute("CREATE TEMP TABLE consent_records (LIKE public.consent_records) ON COMMIT DROP")
                    try await transaction.execute(
                        """
                        INSERT INTO consent_records (id, lead_id, seq, purpose_id, purpose_version, action, recorded_at, channel, hash, hash_version)
                        SELECT gen_random_uuid(), $1::uuid, 999, $2::uuid, 1, 'give', now(), 'api', '\\x00', 2
                        """,
                        [lead, purpose]
                    )
                    try await transaction.execute(
                        """
                        INSERT INTO public.consent_records (lead_id, purpose_id, purpose_version, action, channel)
                        VALUES ($1::uuid, $2::uuid, 1, 'give', 'api')
                        """,
                        [lead, purpose]
                    )
                }
            }
            let seq: Int = try await fixture.pool.query(
                "SELECT max(seq) AS seq FROM public.consent_records WHERE lead_id = $1::uuid", [lead]
            ).single().decode("seq")
            #expect(seq == 1)
            let verdict = try await client.send(.get, "/v1/leads/\(lead)/consents/verify", headers: headers(key: fixture.adminKey)).json()
            #expect(verdict["intact"] as? Bool == true)
        }
    }

    @Test func everyTriggerFunctionPinsItsSearchPath() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool { pool in
                let open = try await pool.query(
                    """
                    SELECT p.proname AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                    JOIN pg_language l ON l.oid = p.prolang
                    WHERE n.nspname = 'public' AND l.lanname IN ('plpgsql', 'sql')
                      AND NOT (p.provolatile = 'i' AND l.lanname = 'sql')
                      AND NOT coalesce('search_path=pg_catalog, public, pg_temp' = ANY(p.proconfig), false)
                    ORDER BY 1
                    """
                ).map { try $0.decode("name", as: String.self) }
                #expect(open == [], "set search_path = pg_catalog, public, pg_temp on these and name their tables with their schema")
            }
        }
    }
}
