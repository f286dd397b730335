import CustodianCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSONText
import Postgres
import TestSupport
import Testing

@testable import CustodianHTTP

@Suite("Logs carry no secret and no personal value")
struct LogPrivacyTests {
    /// A whole day's work through the API, logged at trace level; then every line is searched for
    /// what the test wrote about people, and for every secret it saw.
    @Test func aFullFlowLeavesNoPersonalValueOrSecretInAnyLogLine() async throws {
        let log = CapturedLog()
        let failing: @Sendable (inout RouteTable) -> Void = { routes in
            routes.on(.get, "/test-only/fails") { _, _ in
                throw PostgresError(
                    kind: .other, sqlState: "XX000", message: "value grace.secret@navy.example broke it",
                    detail: "Failing row contains (Grace Hopper, grace.secret@navy.example)"
                )
            }
        }
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool(role: .api, logger: log.logger(label: "pool")) { pool in
                let adminKey = try await StaffDirectory(database: pool).bootstrapKey(
                    staffName: "Ada Admin", email: "ada.admin@example.org", role: .admin, keyName: "tests"
                ).key
                let secrets = try await withApp(database: pool, logger: log.logger(label: "app"), extraRoutes: failing) { client in
                    var seen = [adminKey]
                    let purpose = try #require(
                        try await client.create(
                            "/v1/consent-purposes", key: adminKey,
                            #"{"name": "Newsletter", "description": "News.", "lawful_basis": "consent", "applies_to": "both"}"#
                        )["id"] as? String)
                    let lead = try #require(
                        try await client.create(
                            "/v1/leads", key: adminKey,
                            #"{"name": "Grace Hopper", "email": "grace.secret@navy.example", "phone": "+1 555 0100 777", "company": "Navy Labs"}"#
                        )["id"] as? String)
                    _ = try await client.create("/v1/leads/\(lead)/notes", key: adminKey, #"{"text": "Allergic to peanuts"}"#)
                    let customer = try #require(
                        try await client.create("/v1/customers", key: adminKey, #"{"company": "Navy Labs"}"#)["id"] as? String)
                    _ = try await client.create(
                        "/v1/contacts", key: adminKey,
                        #"{"customer_id": "\#(customer)", "first_name": "Margaret", "last_name": "Hamilton", "email": "margaret@apollo.example"}"#
                    )
                    // A duplicate email: PostgreSQL's DETAIL names it.
                    let duplicate = try await client.send(
                        .post, "/v1/contacts", headers: headers(key: adminKey, json: true),
                        body: #"{"customer_id": "\#(customer)", "first_name": "M", "last_name": "H", "email": "margaret@apollo.example"}"#
                    )
                    #expect(duplicate.status == .conflict)
                    let staffKey = try #require(
                        try await client.create(
                            "/v1/api-keys", key: adminKey,
                            #"{"staff_id": "\#(try await pool.query("SELECT id::text FROM staff").single().decode("id", as: String.self))", "name": "laptop"}"#
                        )["key"] as? String)
                    seen.append(staffKey)
                    _ = try await client.send(.get, "/v1/leads?q=Grace%20Hopper", headers: headers(key: staffKey))
                    _ = try await client.send(.get, "/v1/contacts?q=margaret@apollo.example", headers: headers(key: adminKey))

                    let link = try await client.send(.post, "/v1/leads/\(lead)/consent-link", headers: headers(key: adminKey)).json()
                    let token = String(try #require((link["url"] as? String)?.split(separator: "/").last))
                    seen.append(token)
                    _ = try await client.send(.get, "/v1/public/consent/\(token)")
                    _ = try await client.send(
                        .post, "/v1/public/consent/\(token)", headers: headers(key: nil, json: true),
                        body: #"{"decisions": [{"purpose_id": "\#(purpose)", "action": "give"}]}"#
                    )
                    // Failures: a wrong key, a wrong token, a bad body naming a person, a 405 and a 500.
                    _ = try await client.send(.get, "/v1/leads", headers: headers(key: "cst_grace.secret@navy.example"))
                    _ = try await client.send(.get, "/v1/public/consent/\(token.dropLast())x")
                    _ = try await client.send(
                        .post, "/v1/leads", headers: headers(key: adminKey, json: true),
                        body: #"{"name": "Grace Hopper", "email": "Grace Hopper"}"#
                    )
                    _ = try await client.send(.delete, "/v1/public/consent/\(token)")
                    let failed = try await client.send(.get, "/test-only/fails")
                    #expect(failed.status == .internalServerError)
                    #expect(!failed.text.contains("grace"))
                    return seen
                }
                let personal = [
                    "Grace", "Hopper", "grace.secret", "navy.example", "555 0100", "Navy Labs", "peanuts", "Margaret", "Hamilton",
                    "apollo.example", "ada.admin@example.org",
                ]
                // Each event as both formats the server writes (CUSTODIAN_LOG_FORMAT text and json).
                let lines = log.all.flatMap { entry in
                    LogLine.Format.allCases.map { format in
                        LogLine.render(
                            format, time: Date(), level: entry.level, label: "custodian", source: "CustodianHTTP", message: entry.message,
                            metadata: entry.metadata)
                    }
                }
                #expect(lines.count >= 30)
                #expect(lines.contains { $0.contains("http.route=/v1/public/consent/{token}") })
                // A JSON line is one object with the event's fields, ready for a log shipper.
                let requests = lines.compactMap { JSONValue(json: $0) }.filter { $0["message"]?.string == "request" }
                #expect(
                    requests.count >= 10
                        && requests.count == lines.filter { $0.hasPrefix("{") }.filter { $0.contains(#""message":"request""#) }.count)
                #expect(requests.contains { $0["http.route"]?.string == "/v1/public/consent/{token}" && $0["request_id"]?.string != nil })
                #expect(requests.allSatisfy { $0["time"]?.string.flatMap(RFC3339.date(from:)) != nil && $0["http.status"] != nil })
                // Who acted: the key's kind, the person behind a link, nobody for a refused key.
                func actors(_ route: String, _ status: String) -> Set<String> {
                    let matching = requests.filter { $0["http.route"]?.string == route && $0["http.status"]?.string == status }
                    return Set(matching.compactMap { $0["actor"]?.string })
                }
                #expect(actors("/v1/leads", "200") == ["staff"])
                #expect(actors("/v1/leads", "401") == ["none"])
                #expect(actors("/v1/public/consent/{token}", "200") == ["link"])
                for line in lines {
                    for value in personal + secrets {
                        #expect(!line.contains(value), "a log line holds \(value): \(line)")
                    }
                }
            }
        }
    }

    @Test func clientAddressesBehindProxiesAreReadFromTheRight() throws {
        let proxies = [try #require(IPNetwork("10.0.0.0/8")), try #require(IPNetwork("2001:db8:ffff::/48"))]
        func client(_ peer: String?, _ forwarded: [String]) -> String? {
            ClientAddressMiddleware.clientAddress(peer: peer.flatMap { IPAddress($0) }, forwardedFor: forwarded, trusting: proxies)?
                .description
        }
        // The client writes the leftmost entries; only what trusted proxies appended counts.
        #expect(client("10.0.0.2", ["6.6.6.6, 203.0.113.7, 10.0.0.1"]) == "203.0.113.7")
        #expect(client("10.0.0.2", ["6.6.6.6", "203.0.113.7, 10.0.0.1"]) == "203.0.113.7")
        // A peer that is no trusted proxy is the client, whatever it claims.
        #expect(client("198.51.100.9", ["1.2.3.4"]) == "198.51.100.9")
        // Garbage stops the walk at the last address a trusted proxy vouched for.
        #expect(client("10.0.0.2", ["evil, 10.0.0.9"]) == "10.0.0.9")
        #expect(client("10.0.0.2", ["1.2.3.4:80"]) == "10.0.0.2")
        #expect(client("2001:db8:ffff::1", ["2001:db8:1:2:3:4:5:6"]) == "2001:db8:1:2:3:4:5:6")
        #expect(client("::ffff:10.0.0.3", ["192.0.2.4"]) == "192.0.2.4")
        #expect(
            ClientAddressMiddleware.clientAddress(peer: IPAddress("10.0.0.2"), forwardedFor: ["1.2.3.4"], trusting: [])
                == IPAddress("10.0.0.2"))
    }

    @Test func ipv6ClientsAreLimitedPerSlash64() throws {
        let one = try #require(IPAddress("2001:db8:1:2:aaaa::1"))
        let sibling = try #require(IPAddress("2001:db8:1:2:ffff:1:2:3"))
        let neighbour = try #require(IPAddress("2001:db8:1:3::1"))
        #expect(one.rateLimitKey == sibling.rateLimitKey)
        #expect(one.rateLimitKey != neighbour.rateLimitKey)
        #expect(IPAddress("192.0.2.1")?.rateLimitKey == "192.0.2.1")
        for invalid in ["", "localhost", "1.2.3", "1.2.3.4.5", "::g", "1.2.3.4/8", String(repeating: "1", count: 100)] {
            #expect(IPAddress(invalid) == nil, "\(invalid)")
        }
        #expect(IPNetwork("::ffff:10.0.0.0/104")?.contains(try #require(IPAddress("10.1.2.3"))) == true)
        #expect(IPNetwork("10.0.0.0/33") == nil)
    }
}
