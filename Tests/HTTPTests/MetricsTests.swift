import CustodianCore
import CustodianHTTP
import Foundation
import HTTPTypes
import JSONText
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
            #expect(text.contains(#"custodian_db_pool_wait_seconds_total{pool="api"}"#))
            #expect(text.contains(#"custodian_db_pool_acquire_timeouts_total{pool="public"}"#))
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

    @Test func aFeedPollRecordsHowFarBehindItsPollerWas() async throws {
        try await StaffFixture.withApp(settings: ServerSettings(metricsToken: Self.token)) { fixture, client in
            let admin = fixture.adminKey
            // A first poll is a snapshot: no lag to speak of.
            let first = try await client.send(.get, "/v1/feeds/leads", headers: headers(key: admin))
            let checkpoint = try #require(first.text.split(separator: "\n").last.flatMap { JSONValue(json: String($0)) }?["cursor"]?.string)
            _ = try await AuditTrailTests.lead(client, key: admin, "lag\(SeededPerson.marker())")
            // The change was made an hour ago, as far as the feed knows.
            try await fixture.database.withPool(role: .owner) { owner in
                try await owner.execute("UPDATE feed_changes SET changed_at = now() - interval '1 hour'")
            }
            let later = try await client.send(.get, "/v1/feeds/leads?since=\(checkpoint)", headers: headers(key: admin))
            #expect(later.status == .ok)
            let text = try await client.send(.get, "/metrics", headers: headers(key: Self.token)).text
            #expect(text.contains(#"custodian_feed_lag_seconds_count{feed="leads"} 1"#), "\(text)")
            let sum = text.split(separator: "\n").first { $0.hasPrefix(#"custodian_feed_lag_seconds_sum{feed="leads"}"#) }
            let seconds = try #require(sum.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) })
            #expect(seconds >= 3600 && seconds < 3700, "\(seconds)")
        }
    }
}
