import CustodianCore
import CustodianHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Postgres
import TestSupport
import Testing

/// A test database with an admin key, and a client that sends it. The app and `pool` connect as
/// the API's role, as in production; `database` gives other roles for what only they can do.
struct StaffFixture: Sendable {
    let database: TestDatabase
    let pool: PostgresPool
    let adminKey: String

    static func withApp(
        settings: ServerSettings = ServerSettings(),
        logger: Logger = TestPostgres.logger,
        limits: SessionLimits = .api,
        _ body: @Sendable @escaping (StaffFixture, ContractClient) async throws -> Void
    ) async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool(role: .api, limits: limits, logger: logger) { pool in
                let key = try await StaffDirectory(database: pool).bootstrapKey(
                    staffName: "Ada Admin", email: "ada@example.org", role: .admin, keyName: "tests"
                ).key
                let fixture = StaffFixture(database: database, pool: pool, adminKey: key)
                try await HTTPTests.withApp(database: pool, settings: settings, logger: logger) { client in try await body(fixture, client)
                }
            }
        }
    }

    /// Runs `statement` as the owner with `trigger` of `table` switched off for it: tampering that
    /// only the owner (or a superuser) can do, and that the checks must then find.
    func tamper(_ statement: String, bypassing trigger: String, on table: String) async throws {
        try await database.withPool(role: .owner) { owner in
            try await owner.transaction { transaction in
                try await transaction.execute("ALTER TABLE \(table) DISABLE TRIGGER \(trigger)")
                try await transaction.execute(statement)
                try await transaction.execute("ALTER TABLE \(table) ENABLE TRIGGER \(trigger)")
            }
        }
    }

    /// A key for a new staff member with `role`.
    func key(role: StaffRole, name: String = "Member \(UUID().uuidString.prefix(6))") async throws -> String {
        try await StaffDirectory(database: pool).bootstrapKey(staffName: name, email: nil, role: role, keyName: "tests").key
    }
}

func headers(key: String?, json: Bool = false, ifMatch: String? = nil) -> HTTPFields {
    var fields = HTTPFields()
    if let key { fields[.authorization] = "Bearer \(key)" }
    if json { fields[.contentType] = "application/json" }
    if let ifMatch { fields[.ifMatch] = ifMatch }
    return fields
}

@Suite("Staff API keys authenticate, roles authorise")
struct StaffAuthenticationTests {
    @Test func aMissingUnknownOrMalformedKeyIs401() async throws {
        try await StaffFixture.withApp { _, client in
            for fields in [headers(key: nil), headers(key: "cst_not-a-real-key"), headers(key: "nonsense")] {
                let response = try await client.send(.get, "/v1/staff", headers: fields)
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == "Bearer")
                #expect(try response.json()["type"] as? String == "urn:custodian:problem:unauthorized")
            }
            var basic = HTTPFields()
            basic[.authorization] = "Basic YWRhOnNlY3JldA=="
            #expect(try await client.send(.get, "/v1/staff", headers: basic).status == .unauthorized)
        }
    }

    @Test func rolesAreEnforcedPerOperation() async throws {
        try await StaffFixture.withApp { fixture, client in
            let readonly = try await fixture.key(role: .readonly)
            let staff = try await fixture.key(role: .staff)
            #expect(try await client.send(.get, "/v1/staff", headers: headers(key: readonly)).status == .ok)
            let body = #"{"name": "New Person", "role": "staff"}"#
            for key in [readonly, staff] {
                let refused = try await client.send(.post, "/v1/staff", headers: headers(key: key, json: true), body: body)
                #expect(refused.status == .forbidden)
                #expect(try await client.send(.get, "/v1/api-keys", headers: headers(key: key)).status == .forbidden)
            }
            #expect(
                try await client.send(.post, "/v1/staff", headers: headers(key: fixture.adminKey, json: true), body: body).status
                    == .created)
            // A refused request changed nothing: only Ada, the two members above and the new one exist.
            let count: Int = try await fixture.pool.query("SELECT count(*) AS n FROM staff").single().decode("n")
            #expect(count == 4)
        }
    }

    /// Each instance remembers authenticated keys for a second (`keyCacheLifetime`); the one that
    /// revokes forgets at once, another within that second.
    @Test func aKeyRevokedThroughAnotherInstanceIsRefusedThereWithinASecond() async throws {
        try await StaffFixture.withApp { fixture, client in
            let key = try await fixture.key(role: .staff, name: "Roaming")
            let keyID: String = try await fixture.pool.query(
                "SELECT k.id::text AS id FROM api_keys k JOIN staff s ON s.id = k.staff_id WHERE s.name = 'Roaming'"
            ).single().decode("id")
            try await HTTPTests.withApp(database: fixture.pool) { other in
                #expect(try await other.send(.get, "/v1/staff", headers: headers(key: key)).status == .ok)
                #expect(try await client.send(.get, "/v1/staff", headers: headers(key: key)).status == .ok)
                #expect(
                    try await client.send(.delete, "/v1/api-keys/\(keyID)", headers: headers(key: fixture.adminKey)).status == .noContent)
                let revoked = ContinuousClock.now
                #expect(try await client.send(.get, "/v1/staff", headers: headers(key: key)).status == .unauthorized)
                var refusedAfter: Duration?
                while refusedAfter == nil, ContinuousClock.now - revoked < .seconds(3) {
                    if try await other.send(.get, "/v1/staff", headers: headers(key: key)).status == .unauthorized {
                        refusedAfter = ContinuousClock.now - revoked
                    } else {
                        try await Task.sleep(for: .milliseconds(50))
                    }
                }
                let after = try #require(refusedAfter, "the other instance still accepts the revoked key after 3 s")
                #expect(after < .milliseconds(1500), "refused after \(after)")
            }
        }
    }

    @Test func revokedKeysAndDeactivatedMembersAreLockedOut() async throws {
        try await StaffFixture.withApp { fixture, client in
            let member = try await client.send(
                .post, "/v1/staff", headers: headers(key: fixture.adminKey, json: true), body: #"{"name": "Kim", "role": "staff"}"#
            )
            let memberID = try #require(try member.json()["id"] as? String)
            let created = try await client.send(
                .post, "/v1/api-keys", headers: headers(key: fixture.adminKey, json: true),
                body: #"{"staff_id": "\#(memberID)", "name": "laptop"}"#
            )
            #expect(created.status == .created)
            #expect(created.headers[.cacheControl] == "no-store")
            let key = try #require(try created.json()["key"] as? String)
            let keyID = try #require(try created.json()["id"] as? String)
            #expect(try await client.send(.get, "/v1/staff", headers: headers(key: key)).status == .ok)

            // Listing shows the key's prefix, never the secret; the database holds only its hash.
            let list = try await client.send(.get, "/v1/api-keys?staff_id=\(memberID)", headers: headers(key: fixture.adminKey))
            #expect(!list.text.contains(key))
            let stored: Int = try await fixture.pool.query(
                "SELECT count(*) AS n FROM api_keys WHERE key_hash = sha256(convert_to($1, 'UTF8'))", [key]
            ).single().decode("n")
            #expect(stored == 1)

            // The create's Location reads the key, without its secret.
            #expect(created.headers[.location] == "/v1/api-keys/\(keyID)")
            let single = try await client.send(.get, "/v1/api-keys/\(keyID)", headers: headers(key: fixture.adminKey))
            #expect(try single.json()["id"] as? String == keyID && !single.text.contains(key))

            #expect(try await client.send(.delete, "/v1/api-keys/\(keyID)", headers: headers(key: fixture.adminKey)).status == .noContent)
            #expect(
                try await client.send(.get, "/v1/api-keys/\(keyID)", headers: headers(key: fixture.adminKey)).json()["revoked_at"] is String
            )
            #expect(try await client.send(.get, "/v1/staff", headers: headers(key: key)).status == .unauthorized)
            #expect(try await client.send(.delete, "/v1/api-keys/\(keyID)", headers: headers(key: fixture.adminKey)).status == .noContent)

            let second = try await fixture.key(role: .staff, name: "Lee")
            let leeID: String = try await fixture.pool.query("SELECT id::text AS id FROM staff WHERE name = 'Lee'").single().decode("id")
            let deactivate = try await client.send(
                .patch, "/v1/staff/\(leeID)", headers: headers(key: fixture.adminKey, json: true), body: #"{"active": false}"#
            )
            #expect(deactivate.status == .ok)
            #expect(try await client.send(.get, "/v1/staff", headers: headers(key: second)).status == .unauthorized)

            // Coming back gives access back, not the old keys: those ended with the deactivation.
            let reactivate = try await client.send(
                .patch, "/v1/staff/\(leeID)", headers: headers(key: fixture.adminKey, json: true), body: #"{"active": true}"#
            )
            #expect(reactivate.status == .ok)
            #expect(try await client.send(.get, "/v1/staff", headers: headers(key: second)).status == .unauthorized)
            let keys = try await client.send(.get, "/v1/api-keys?staff_id=\(leeID)", headers: headers(key: fixture.adminKey)).json()
            #expect((keys["data"] as? [[String: Any]])?.allSatisfy { $0["revoked_at"] is String } == true)
        }
    }

    @Test func twoAdminsStepDownAtOnceAndOneStaysAdmin() async throws {
        try await StaffFixture.withApp { fixture, client in
            // Each transaction that writes a staff row lingers at its commit, so both demotions have
            // counted the admins left before either commits: without serialising that check, both
            // would see the other admin still there.
            try await fixture.database.withPool(role: .owner) { owner in
                try await owner.execute(
                    "CREATE FUNCTION linger() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.3); RETURN NULL; END $$"
                )
                try await owner.execute(
                    """
                    CREATE CONSTRAINT TRIGGER staff_linger AFTER UPDATE ON staff DEFERRABLE INITIALLY DEFERRED
                    FOR EACH ROW EXECUTE FUNCTION linger()
                    """
                )
            }
            for round in 0..<3 {
                var ids: [String] = []
                var keys: [String] = []
                for name in ["First \(round)", "Second \(round)"] {
                    let key = try await fixture.key(role: .admin, name: name)
                    keys.append(key)
                    ids.append(
                        try await fixture.pool.query("SELECT id::text AS id FROM staff WHERE name = $1", [name]).single().decode("id"))
                }
                // Only these two are admins now.
                try await fixture.pool.execute(
                    "UPDATE staff SET role = 'staff' WHERE role = 'admin' AND NOT (id = ANY($1::uuid[]))",
                    ["{\(ids.joined(separator: ","))}"]
                )
                let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                    for (id, key) in zip(ids, keys) {
                        group.addTask {
                            try await client.send(
                                .patch, "/v1/staff/\(id)", headers: headers(key: key, json: true), body: #"{"role": "staff"}"#
                            ).status
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                let admins: Int = try await fixture.pool.query("SELECT count(*) AS n FROM staff WHERE role = 'admin' AND active").single()
                    .decode("n")
                #expect(admins == 1, "round \(round): \(statuses)")
                #expect(statuses.filter { $0 == .ok }.count == 1, "round \(round): \(statuses)")
                // Hand admin back to the fixture's key for the next round.
                try await fixture.pool.execute("UPDATE staff SET role = 'admin' WHERE name = 'Ada Admin'")
            }
        }
    }

    @Test func theCommandLineBootstrapReusesTheNamedMember() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool(role: .api) { pool in
                let directory = StaffDirectory(database: pool)
                let first = try await directory.bootstrapKey(staffName: "Root", email: nil, role: .admin, keyName: "cli")
                let second = try await directory.bootstrapKey(staffName: "Root", email: nil, role: .admin, keyName: "cli")
                #expect(first.key != second.key)
                #expect(first.key.hasPrefix("cst_") && first.key.count == 47)
                let members: Int = try await pool.query("SELECT count(*) AS n FROM staff WHERE name = 'Root'").single().decode("n")
                #expect(members == 1)
                #expect(try await directory.authenticate(key: first.key)?.member.role == .admin)
            }
        }
    }
}

@Suite("Staff members: create, read, list, update")
struct StaffResourceTests {
    @Test func createReturnsTheRecordWithETagAndLocation() async throws {
        try await StaffFixture.withApp { fixture, client in
            let response = try await client.send(
                .post, "/v1/staff", headers: headers(key: fixture.adminKey, json: true),
                body: #"{"name": "  Grace Hopper ", "email": "grace@example.org", "role": "staff"}"#
            )
            #expect(response.status == .created)
            let body = try response.json()
            #expect(body["name"] as? String == "Grace Hopper")
            #expect(body["email"] as? String == "grace@example.org")
            #expect(body["active"] as? Bool == true)
            let id = try #require(body["id"] as? String)
            #expect(response.headers[.location] == "/v1/staff/\(id)")
            #expect(response.headers[.eTag] == "\"1\"")
            let read = try await client.send(.get, "/v1/staff/\(id)", headers: headers(key: fixture.adminKey))
            #expect(read.status == .ok)
            #expect(try read.json()["name"] as? String == "Grace Hopper")
            #expect(try await client.send(.get, "/v1/staff/\(UUID())", headers: headers(key: fixture.adminKey)).status == .notFound)
            #expect(try await client.send(.get, "/v1/staff/not-a-uuid", headers: headers(key: fixture.adminKey)).status == .notFound)
        }
    }

    @Test func invalidInputIs422ListingEveryField() async throws {
        try await StaffFixture.withApp { fixture, client in
            let response = try await client.send(
                .post, "/v1/staff", headers: headers(key: fixture.adminKey, json: true),
                body: #"{"name": "", "email": "not-an-email", "role": "owner", "nickname": "x"}"#
            )
            #expect(response.status == .unprocessableContent)
            let errors = try #require(try response.json()["errors"] as? [[String: String]])
            #expect(Set(errors.compactMap { $0["field"] }) == ["name", "email", "role", "nickname"])
            let missing = try await client.send(.post, "/v1/staff", headers: headers(key: fixture.adminKey, json: true), body: "{}")
            let missingFields = try #require(try missing.json()["errors"] as? [[String: String]]).compactMap { $0["field"] }
            #expect(Set(missingFields) == ["name", "role"])
            let wrongTypes = try await client.send(
                .post, "/v1/staff", headers: headers(key: fixture.adminKey, json: true),
                body: #"{"name": 5, "role": ["admin"], "email": "a\u0000b@example.org"}"#
            )
            #expect(wrongTypes.status == .unprocessableContent)
            let hostile = String(repeating: "é'; DROP TABLE staff; --", count: 20)
            let tooLong = try await client.send(
                .post, "/v1/staff", headers: headers(key: fixture.adminKey, json: true),
                body: #"{"name": "\#(hostile)", "role": "staff"}"#
            )
            #expect(tooLong.status == .unprocessableContent)
            let count: Int = try await fixture.pool.query("SELECT count(*) AS n FROM staff").single().decode("n")
            #expect(count == 1)
        }
    }

    @Test func aDuplicateEmailIs409IgnoringCase() async throws {
        try await StaffFixture.withApp { fixture, client in
            let response = try await client.send(
                .post, "/v1/staff", headers: headers(key: fixture.adminKey, json: true),
                body: #"{"name": "Other Ada", "email": "ADA@Example.org", "role": "staff"}"#
            )
            #expect(response.status == .conflict)
            let body = try response.json()
            #expect(body["type"] as? String == "urn:custodian:problem:duplicate")
            #expect((body["errors"] as? [[String: String]])?.first?["field"] == "email")
        }
    }

    @Test func patchChangesOnlyWhatIsSentAndHonoursIfMatch() async throws {
        try await StaffFixture.withApp { fixture, client in
            let created = try await client.send(
                .post, "/v1/staff", headers: headers(key: fixture.adminKey, json: true),
                body: #"{"name": "Lin", "email": "lin@example.org", "role": "readonly"}"#
            )
            let id = try #require(try created.json()["id"] as? String)
            let stale = try #require(created.headers[.eTag])

            let promoted = try await client.send(
                .patch, "/v1/staff/\(id)", headers: headers(key: fixture.adminKey, json: true, ifMatch: stale), body: #"{"role": "staff"}"#
            )
            #expect(promoted.status == .ok)
            #expect(promoted.headers[.eTag] == "\"2\"")
            #expect(try promoted.json()["email"] as? String == "lin@example.org")

            let refused = try await client.send(
                .patch, "/v1/staff/\(id)", headers: headers(key: fixture.adminKey, json: true, ifMatch: stale),
                body: #"{"name": "Overwritten"}"#
            )
            #expect(refused.status == .preconditionFailed)
            #expect(refused.headers[.eTag] == "\"2\"")

            let cleared = try await client.send(
                .patch, "/v1/staff/\(id)", headers: headers(key: fixture.adminKey, json: true, ifMatch: "\"2\""), body: #"{"email": null}"#
            )
            #expect(cleared.status == .ok)
            let body = try cleared.json()
            #expect(body["email"] is NSNull)
            #expect(body["name"] as? String == "Lin")
            #expect(body["role"] as? String == "staff")
        }
    }

    @Test func theLastActiveAdminCannotBeDemotedOrDeactivated() async throws {
        try await StaffFixture.withApp { fixture, client in
            let ada: String = try await fixture.pool.query("SELECT id::text AS id FROM staff WHERE name = 'Ada Admin'").single().decode(
                "id")
            for body in [#"{"role": "staff"}"#, #"{"active": false}"#] {
                let response = try await client.send(
                    .patch, "/v1/staff/\(ada)", headers: headers(key: fixture.adminKey, json: true), body: body)
                #expect(response.status == .conflict)
            }
            let role: String = try await fixture.pool.query("SELECT role FROM staff WHERE id = $1::uuid", [ada]).single().decode("role")
            #expect(role == "admin")
        }
    }

    @Test func listsPageWithCursorsAndFilter() async throws {
        try await StaffFixture.withApp { fixture, client in
            for index in 1...5 {
                try await client.send(
                    .post, "/v1/staff", headers: headers(key: fixture.adminKey, json: true),
                    body: #"{"name": "Member \#(index)", "role": "\#(index % 2 == 0 ? "readonly" : "staff")"}"#
                )
            }
            var names: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let uri = "/v1/staff?limit=2" + (cursor.map { "&cursor=\($0)" } ?? "")
                let page = try await client.send(.get, uri, headers: headers(key: fixture.adminKey)).json()
                names += (page["data"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
                cursor = page["next_cursor"] as? String
                pages += 1
                if pages == 1 {
                    // Rows inserted while paging do not shift the pages already read.
                    try await client.send(
                        .post, "/v1/staff", headers: headers(key: fixture.adminKey, json: true), body: #"{"name": "Late", "role": "staff"}"#
                    )
                }
            } while cursor != nil && pages < 10
            #expect(names == ["Ada Admin", "Member 1", "Member 2", "Member 3", "Member 4", "Member 5", "Late"])
            #expect(pages == 4)

            let readonly = try await client.send(.get, "/v1/staff?role=readonly", headers: headers(key: fixture.adminKey)).json()
            #expect((readonly["data"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["Member 2", "Member 4"])

            let badLimit = try await client.send(.get, "/v1/staff?limit=0&colour=red", headers: headers(key: fixture.adminKey))
            #expect(badLimit.status == .unprocessableContent)
            #expect(
                Set(try #require(try badLimit.json()["errors"] as? [[String: String]]).compactMap { $0["field"] }) == ["limit", "colour"])
            let badCursor = try await client.send(.get, "/v1/staff?cursor=bm9wZQ", headers: headers(key: fixture.adminKey))
            #expect(badCursor.status == .badRequest)
            #expect(try badCursor.json()["type"] as? String == "urn:custodian:problem:invalid-cursor")
        }
    }
}
