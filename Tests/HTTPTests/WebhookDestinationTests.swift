import CustodianCore
import CustodianHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

/// Webhooks cannot be turned against the inside: addresses that are not public are refused when
/// an endpoint is registered and again, resolved, when it is delivered to; no redirect is followed;
/// one deadline covers a whole attempt; a slow receiver holds up nobody else.
@Suite("Webhooks reach only public addresses, follow no redirect and keep one deadline")
struct WebhookDestinationTests {
    let support = WebhookTests()

    @Test func insideAddressesAndPlainHTTPAreRefusedWhenRegistered() async throws {
        // The server's defaults: https only, no network allowed beyond the public ones.
        try await StaffFixture.withApp(settings: ServerSettings(secrets: WebhookTests.secrets)) { fixture, client in
            for url in [
                "https://127.0.0.1:5432/", "https://169.254.169.254/latest/meta-data/", "https://10.0.0.5/", "https://192.168.1.1/",
                "https://172.16.0.1/", "https://100.64.0.1/", "https://0.0.0.0/", "https://2130706433/", "https://0x7f.1/",
                "https://0177.0.0.1/", "https://127.1/", "https://localhost/hook", "https://api.localhost/hook",
                "https://224.0.0.1/", "https://[::1]/", "http://hooks.example.org/hook",
            ] {
                let response = try await client.send(
                    .post, "/v1/webhooks", headers: headers(key: fixture.adminKey, json: true),
                    body: #"{"url": "\#(url)", "events": ["subject.erased"]}"#)
                #expect(response.status == .unprocessableContent, "\(url)")
                let invalid = try response.json()["errors"] as? [[String: Any]]
                #expect(invalid?.first?["field"] as? String == "url", "\(url)")
            }
            // A public name is accepted: it is resolved and checked at every delivery.
            let created = try await client.send(
                .post, "/v1/webhooks", headers: headers(key: fixture.adminKey, json: true),
                body: #"{"url": "https://hooks.example.org/hook", "events": ["subject.erased"]}"#)
            #expect(created.status == .created)
        }
    }

    @Test func aLoopbackReceiverGetsNothingUnlessItsNetworkIsAllowed() async throws {
        let receiver = WebhookReceiver()
        try await StaffFixture.withApp(settings: WebhookTests.settings) { fixture, client in
            try await receiver.run {
                // Registered while the network was allowed; delivered by a server that no longer allows it.
                let (endpoint, _) = try await support.register(
                    client, key: fixture.adminKey, url: receiver.url.replacingOccurrences(of: "127.0.0.1", with: "localhost"),
                    events: ["request.received"])
                _ = try await support.openCase(client, key: fixture.adminKey)
                let publicOnly = WebhookDestinationPolicy(allowsPlainHTTP: true)
                #expect(try await support.dispatcher(fixture.pool, destinations: publicOnly).runOnce() == 1)
                #expect(receiver.received.isEmpty)
                let refused = try await support.attempts(client, key: fixture.adminKey, endpoint: endpoint)
                #expect(refused.first?["response_status"] is NSNull)
                #expect((refused.first?["error"] as? String)?.contains("not a public address") == true)
            }
        }
    }

    @Test func aRedirectIsNotFollowed() async throws {
        let target = WebhookReceiver()
        try await target.run {
            let redirecting = WebhookReceiver(redirect: target.url)
            try await StaffFixture.withApp(settings: WebhookTests.settings) { fixture, client in
                try await redirecting.run {
                    let (endpoint, _) = try await support.register(
                        client, key: fixture.adminKey, url: redirecting.url, events: ["request.received"])
                    _ = try await support.openCase(client, key: fixture.adminKey)
                    #expect(try await support.dispatcher(fixture.pool, retryDelay: .seconds(60)).runOnce() == 1)
                    #expect(redirecting.received.count == 1)
                    #expect(target.received.isEmpty)
                    let attempts = try await support.attempts(client, key: fixture.adminKey, endpoint: endpoint)
                    #expect(attempts.compactMap { $0["response_status"] as? Int } == [307])
                }
            }
        }
    }

    @Test func aReceiverThatStallsItsBodyFailsAtTheDeadlineAndHoldsUpNoOtherDelivery() async throws {
        let stalling = WebhookReceiver(stallsBody: true)
        let quick = WebhookReceiver()
        try await StaffFixture.withApp(settings: WebhookTests.settings) { fixture, client in
            try await stalling.run {
                try await quick.run {
                    let (slowEndpoint, _) = try await support.register(
                        client, key: fixture.adminKey, url: stalling.url, events: ["request.received"])
                    _ = try await support.openCase(client, key: fixture.adminKey)
                    let sender = WebhookDispatcher(
                        deliveries: WebhookDeliveries(database: fixture.pool, secrets: WebhookTests.secrets),
                        configuration: .init(
                            pollInterval: .milliseconds(50), firstRetryDelay: .seconds(60), requestTimeout: .seconds(5),
                            destinations: WebhookTests.loopbackAllowed),
                        logger: TestPostgres.logger
                    )
                    let running = Task { try await sender.run() }
                    defer { running.cancel() }
                    try await TestPostgres.waitUntil { !stalling.received.isEmpty }
                    // Work that comes while the stalled delivery is in flight goes out before it ends.
                    _ = try await support.register(client, key: fixture.adminKey, url: quick.url, events: ["request.received"])
                    _ = try await support.openCase(client, key: fixture.adminKey)
                    try await TestPostgres.waitUntil(timeout: .seconds(5)) { !quick.received.isEmpty }
                    #expect(try await support.attempts(client, key: fixture.adminKey, endpoint: slowEndpoint).isEmpty)
                    // The stalled one ends at its deadline, as a failure, although its head said 200.
                    try await TestPostgres.waitUntil(timeout: .seconds(10)) {
                        try await !support.attempts(client, key: fixture.adminKey, endpoint: slowEndpoint).isEmpty
                    }
                    let attempt = try #require(try await support.attempts(client, key: fixture.adminKey, endpoint: slowEndpoint).first)
                    #expect((attempt["error"] as? String)?.contains("deadline") == true)
                    #expect((attempt["duration_ms"] as? Int).map { $0 >= 4_900 } == true)
                }
            }
        }
    }

    @Test func aSecretSealedWithAKeyNoLongerListedFailsOnlyItsOwnDelivery() async throws {
        let receiver = WebhookReceiver()
        try await StaffFixture.withApp(settings: WebhookTests.settings) { fixture, client in
            try await receiver.run {
                let (orphaned, _) = try await support.register(
                    client, key: fixture.adminKey, url: receiver.url, events: ["request.received"])
                let (healthy, _) = try await support.register(
                    client, key: fixture.adminKey, url: receiver.url, events: ["request.received"])
                // The orphaned endpoint's secret was sealed with a key this server has since dropped.
                try await fixture.database.withPool { superuser in
                    try await superuser.execute("UPDATE webhook_endpoints SET secret_key_id = 'retired' WHERE id = $1::uuid", [orphaned])
                }
                _ = try await support.openCase(client, key: fixture.adminKey)
                #expect(try await support.dispatcher(fixture.pool).runOnce() == 2)
                #expect(receiver.received.count == 1)
                let failed = try await support.attempts(client, key: fixture.adminKey, endpoint: orphaned)
                #expect((failed.first?["error"] as? String)?.contains("cannot be opened") == true)
                let delivered = try await support.attempts(client, key: fixture.adminKey, endpoint: healthy)
                #expect(delivered.first?["response_status"] as? Int == 204)
            }
        }
    }

    @Test func theAddressPolicyKnowsTheInside() throws {
        let policy = WebhookDestinationPolicy()
        for inside in [
            "127.0.0.1", "10.1.2.3", "172.31.255.255", "192.168.0.1", "169.254.169.254", "100.100.100.200", "0.0.0.0", "::1", "::",
            "fe80::1", "fd00:ec2::254", "fc00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1", "2002:a00:1::", "ff02::1",
            "224.0.0.251", "255.255.255.255",
        ] {
            #expect(!policy.permits(try #require(IPAddress(inside))), "\(inside)")
        }
        for outside in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"] {
            #expect(policy.permits(try #require(IPAddress(outside))), "\(outside)")
        }
        // An allowed network opens that network, never the metadata service or "this host".
        let internalReceiver = WebhookDestinationPolicy(
            allowedNetworks: ["10.0.0.0/8", "169.254.0.0/16", "0.0.0.0/0"].compactMap { IPNetwork($0) })
        #expect(internalReceiver.permits(try #require(IPAddress("10.20.0.5"))))
        #expect(!internalReceiver.permits(try #require(IPAddress("169.254.169.254"))))
        #expect(!internalReceiver.permits(try #require(IPAddress("0.0.0.0"))))
    }
}
