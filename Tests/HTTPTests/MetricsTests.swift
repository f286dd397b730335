import CustodianCore
import CustodianHTTP
import Foundation
import HTTPTypes
import TestSupport
import Testing

/// `GET /metrics`: the Prometheus text format, for the holder of the metrics token only, with
/// route patterns and no id or personal value in any label.
@Suite("Metrics: requests by route, pools, outbox and cases, behind a token, with no id in a label")
struct MetricsTests {
    static let token = String(repeating: "m", count: 40)

    @Test func aScraperWithTheTokenGetsRequestsByRouteAndNoIdOrValue() async throws {
        try await StaffFixture.withApp(settings: ServerSettings(metricsToken: Self.token)) { fixture, client in
            let admin = fixture.adminKey
            let lead = try await AuditTrailTests.lead(client, key: admin, "mia\(SeededPerson.marker())")
            for _ in 0..<3 { _ = try await client.send(.get, "/v1/leads/\(lead)", headers: headers(key: admin)) }
            _ = try await client.send(.get, "/v1/leads/\(UUID())", headers: headers(key: admin))
            _ = try await client.openErasure(subjectType: "lead", subjectID: lead, key: admin)

            let anonymous = try await client.send(.get, "/metrics")
            #expect(anonymous.status == .unauthorized)
            let withAPIKey = try await client.send(.get, "/metrics", headers: headers(key: admin))
            #expect(withAPIKey.status == .unauthorized, "an API key is no metrics token")
            let scraped = try await client.send(.get, "/metrics", headers: headers(key: Self.token))
            #expect(scraped.status == .ok && scraped.headers[.contentType]?.hasPrefix("text/plain") == true)
            let text = scraped.text
            #expect(text.contains(#"custodian_http_requests_total{method="GET",route="/v1/leads/{id}",status="200"} 3"#), "\(text)")
            #expect(text.contains(#"custodian_http_requests_total{method="GET",route="/v1/leads/{id}",status="404"} 1"#))
            #expect(text.contains(#"custodian_http_request_duration_seconds_bucket{method="GET",route="/v1/leads/{id}",le="+Inf"} 4"#))
            #expect(text.contains(#"custodian_request_cases{state="open"} 1"#))
            #expect(text.contains(#"custodian_db_pool_size{pool="api"}"#))
            let uuid = try Regex("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
            #expect(text.firstMatch(of: uuid) == nil, "no id in any label")
            #expect(!text.contains("mia"))
        }
        // Without a token the endpoint is off: no token is right.
        try await StaffFixture.withApp { _, client in
            let off = try await client.send(.get, "/metrics", headers: headers(key: Self.token))
            #expect(off.status == .unauthorized && off.text.contains("metrics are off"))
        }
    }
}
