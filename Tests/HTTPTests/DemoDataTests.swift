import CustodianCore
import Foundation
import Postgres
import TestSupport
import Testing

@Suite("custodian seed --demo")
struct DemoDataTests {
    @Test func theSampleKeepsEveryRuleAndServesThroughTheAPI() async throws {
        try await StaffFixture.withApp { fixture, client in
            let demo = DemoData(database: fixture.pool)
            let summary = try await demo.seed(contacts: 31, leads: 12)
            #expect(summary.customers == 11)
            _ = try await demo.seed(contacts: 3, leads: 1)
            let counts = try await fixture.pool.query(
                """
                SELECT (SELECT count(*) FROM customers) AS customers, (SELECT count(*) FROM contacts) AS contacts,
                       (SELECT count(*) FROM leads) AS leads,
                       (SELECT count(*) FROM customers c WHERE (SELECT count(*) FROM contacts WHERE customer_id = c.id AND is_primary) <> 1) AS without_one_primary
                """
            ).single()
            #expect(try counts.decode("customers", as: Int.self) == 12)
            #expect(try counts.decode("contacts", as: Int.self) == 34)
            #expect(try counts.decode("leads", as: Int.self) == 13)
            #expect(try counts.decode("without_one_primary", as: Int.self) == 0)
            for path in ["/v1/contacts?limit=5", "/v1/customers?q=acme", "/v1/leads?status=contacted", "/v1/custom-fields"] {
                #expect(try await client.send(.get, path, headers: headers(key: fixture.adminKey)).status == .ok)
            }
        }
    }
}
