import CustodianCore
import CustodianHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

@Suite("Events reach webhooks: signed, retried, each delivered once")
struct WebhookTests {
    static let secrets = ServerSecrets(current: .generate())
    /// The test receivers listen on 127.0.0.1 over plain http: allowed here, as an operator
    /// would allow an internal receiver.
    static let loopbackAllowed = WebhookDestinationPolicy(
        allowedNetworks: [IPNetwork("127.0.0.0/8")].compactMap { $0 }, allowsPlainHTTP: true)
    static let settings = ServerSettings(secrets: secrets, webhooks: .init(destinations: loopbackAllowed))

    func dispatcher(
        _ pool: PostgresPool, retryDelay: Duration = .zero, requestTimeout: Duration = .seconds(5),
        destinations: WebhookDestinationPolicy = loopbackAllowed, secrets: ServerSecrets = secrets, metrics: AppMetrics? = nil
    ) -> WebhookDispatcher {
        WebhookDispatcher(
            deliveries: WebhookDeliveries(database: pool, secrets: secrets),
            configuration: .init(firstRetryDelay: retryDelay, requestTimeout: requestTimeout, destinations: destinations),
            logger: TestPostgres.logger, metrics: metrics
        )
    }

    func attempts(_ client: ContractClient, key: String, endpoint: String) async throws -> [[String: Any]] {
        let deliveries = try #require(
            try await client.send(.get, "/v1/webhooks/\(endpoint)/deliveries", headers: headers(key: key)).json()["data"]
                as? [[String: Any]])
        return deliveries.flatMap { ($0["attempts"] as? [[String: Any]]) ?? [] }
    }

    func register(_ client: ContractClient, key: String, url: String, events: [String]) async throws -> (id: String, secret: String) {
        let list = events.map { "\"\($0)\"" }.joined(separator: ", ")
        let created = try await client.send(
            .post, "/v1/webhooks", headers: headers(key: key, json: true), body: #"{"url": "\#(url)", "events": [\#(list)]}"#
        )
        #expect(created.status == .created)
        #expect(created.headers[.cacheControl] == "no-store")
        let body = try created.json()
        return (try #require(body["id"] as? String), try #require(body["secret"] as? String))
    }

    func openCase(_ client: ContractClient, key: String) async throws -> String {
        let lead = try #require(try await client.create("/v1/leads", key: key, #"{"name": "Ada"}"#)["id"] as? String)
        return try #require(
            try await client.create(
                "/v1/requests", key: key, #"{"kind": "access", "subject_type": "lead", "subject_id": "\#(lead)", "details": "Everything."}"#
            )["id"] as? String)
    }

    @Test func aReceiverCanVerifyTheSignatureAndGetsNoPersonalValue() async throws {
        let receiver = WebhookReceiver()
        try await StaffFixture.withApp(settings: Self.settings) { fixture, client in
            try await receiver.run {
                let (endpoint, secret) = try await register(client, key: fixture.adminKey, url: receiver.url, events: ["request.received"])
                #expect(secret.hasPrefix("whsec_"))
                // The secret is sealed at rest: the database holds no copy of it.
                let stored: [UInt8] = try await fixture.pool.query("SELECT sealed_secret FROM webhook_endpoints").single().decode(
                    "sealed_secret")
                #expect(!String(decoding: stored, as: UTF8.self).contains(secret))
                let caseID = try await openCase(client, key: fixture.adminKey)
                #expect(try await dispatcher(fixture.pool).runOnce() == 1)
                let message = try #require(receiver.received.first)
                let id = try #require(message.headers["webhook-id"])
                let timestamp = try #require(message.headers["webhook-timestamp"].flatMap { Int($0) })
                #expect(abs(Double(timestamp) - Date().timeIntervalSince1970) < 60)
                let expected = WebhookSignature.sign(id: id, timestamp: timestamp, body: message.body, secret: secret)
                #expect(message.headers["webhook-signature"] == expected)
                #expect(WebhookSignature.sign(id: id, timestamp: timestamp + 1, body: message.body, secret: secret) != expected)
                let event = message.json
                #expect(event["type"] as? String == "request.received")
                let data = try #require(event["data"] as? [String: Any])
                #expect(data["request_id"] as? String == caseID)
                #expect(!String(decoding: message.body, as: UTF8.self).contains("Everything."))
                #expect(!String(decoding: message.body, as: UTF8.self).contains("Ada"))

                let deliveries =
                    try await client.send(.get, "/v1/webhooks/\(endpoint)/deliveries", headers: headers(key: fixture.adminKey))
                    .json()["data"] as? [[String: Any]]
                #expect(deliveries?.first?["status"] as? String == "delivered")
                #expect((deliveries?.first?["attempts"] as? [[String: Any]])?.first?["response_status"] as? Int == 204)
            }
        }
    }

    @Test func aRequestsTraceReachesTheDeliveriesOfTheEventsItCaused() async throws {
        let receiver = WebhookReceiver()
        try await StaffFixture.withApp(settings: Self.settings) { fixture, client in
            try await receiver.run {
                _ = try await register(client, key: fixture.adminKey, url: receiver.url, events: ["request.received"])
                let lead = try #require(try await client.create("/v1/leads", key: fixture.adminKey, #"{"name": "Tia"}"#)["id"] as? String)
                let trace = "4bf92f3577b34da6a3ce929d0e0e4736"
                var traced = headers(key: fixture.adminKey, json: true)
                traced[HTTPField.Name("traceparent")!] = "00-\(trace)-00f067aa0ba902b7-01"
                let opened = try await client.send(
                    .post, "/v1/requests", headers: traced,
                    body: #"{"kind": "access", "subject_type": "lead", "subject_id": "\#(lead)", "details": "All."}"#)
                #expect(opened.status == .created)
                // A malformed traceparent is ignored: that event goes out without one.
                traced[HTTPField.Name("traceparent")!] = "00-\(String(repeating: "0", count: 32))-00f067aa0ba902b7-01"
                _ = try await client.send(
                    .post, "/v1/requests", headers: traced,
                    body: #"{"kind": "erasure", "subject_type": "lead", "subject_id": "\#(lead)", "details": "All."}"#)
                #expect(try await dispatcher(fixture.pool).runOnce() == 2)
                let parents = receiver.received.map { $0.headers["traceparent"] }
                let carried = parents.compactMap { $0 }
                #expect(parents.count == 2 && carried.count == 1, "\(parents)")
                let parts = carried.first?.split(separator: "-").map(String.init) ?? []
                #expect(parts.count == 4 && parts[0] == "00" && parts[1] == trace && parts[3] == "01")
                #expect(parts.count == 4 && parts[2] != "00f067aa0ba902b7" && parts[2].count == 16, "the delivery is a span of its own")
            }
        }
    }

    @Test func aFailedDeliveryIsRetriedAndEveryAttemptRecorded() async throws {
        let receiver = WebhookReceiver()
        try await StaffFixture.withApp(settings: Self.settings) { fixture, client in
            try await receiver.run {
                let (endpoint, _) = try await register(
                    client, key: fixture.adminKey, url: receiver.url, events: ["request.received", "request.updated", "request.completed"]
                )
                receiver.answer([.internalServerError, .badGateway])
                _ = try await openCase(client, key: fixture.adminKey)
                let metrics = AppMetrics()
                let sender = dispatcher(fixture.pool, metrics: metrics)
                for _ in 0..<3 { try await sender.runOnce() }
                #expect(receiver.received.count == 3)
                // Attempts by the endpoint's host and outcome, for /metrics.
                let scraped = String(decoding: metrics.registry.emitToBuffer(), as: UTF8.self)
                #expect(scraped.contains(#"custodian_webhook_attempts_total{endpoint="127.0.0.1",outcome="failed"} 2"#), "\(scraped)")
                #expect(scraped.contains(#"custodian_webhook_attempts_total{endpoint="127.0.0.1",outcome="delivered"} 1"#))
                #expect(Set(receiver.received.compactMap { $0.headers["webhook-id"] }).count == 1)
                let delivery = try #require(
                    try await client.send(.get, "/v1/webhooks/\(endpoint)/deliveries", headers: headers(key: fixture.adminKey))
                        .json()["data"] as? [[String: Any]]
                ).first
                #expect(delivery?["status"] as? String == "delivered")
                #expect((delivery?["attempts"] as? [[String: Any]])?.compactMap { $0["response_status"] as? Int } == [500, 502, 204])
                // Nothing more to send.
                #expect(try await sender.runOnce() == 0)
            }
        }
    }

    @Test func twoDispatchersDeliverEachEventOnce() async throws {
        let receiver = WebhookReceiver()
        try await StaffFixture.withApp(settings: Self.settings) { fixture, client in
            try await receiver.run {
                _ = try await register(client, key: fixture.adminKey, url: receiver.url, events: ["request.received"])
                for _ in 0..<30 { _ = try await openCase(client, key: fixture.adminKey) }
                try await fixture.database.withPool(role: .api) { otherInstance in
                    let first = dispatcher(fixture.pool)
                    let second = dispatcher(otherInstance)
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for sender in [first, second] {
                            group.addTask { while try await sender.runOnce() > 0 {} }
                        }
                        try await group.waitForAll()
                    }
                }
                let ids = receiver.received.compactMap { $0.headers["webhook-id"] }
                #expect(ids.count == 30)
                #expect(Set(ids).count == 30)
            }
        }
    }

    @Test func aSlowBatchIsDeliveredBeforeItsLeaseEnds() async throws {
        // A batch is claimed with one lease (three request timeouts, here 6 s). Sent one after
        // another, 16 answers of 0.5 s each outlast it, and another instance claims the rest again.
        // Failed attempts wait a minute, so that only a second claim can send an event twice.
        let receiver = WebhookReceiver(delay: .milliseconds(500))
        try await StaffFixture.withApp(settings: Self.settings) { fixture, client in
            try await receiver.run {
                _ = try await register(client, key: fixture.adminKey, url: receiver.url, events: ["request.received"])
                for _ in 0..<16 { _ = try await openCase(client, key: fixture.adminKey) }
                try await fixture.database.withPool(role: .api) { otherInstance in
                    let first = dispatcher(fixture.pool, retryDelay: .seconds(60), requestTimeout: .seconds(2))
                    let second = dispatcher(otherInstance, retryDelay: .seconds(60), requestTimeout: .seconds(2))
                    let started = ContinuousClock.now
                    let firstBatch = Task { try await first.runOnce() }
                    try await TestPostgres.waitUntil { !receiver.received.isEmpty }
                    // The other instance keeps looking for due work for longer than the lease.
                    while ContinuousClock.now - started < .seconds(9) {
                        try await second.runOnce()
                        try await Task.sleep(for: .milliseconds(100))
                    }
                    #expect(try await firstBatch.value == 16)
                }
                let ids = receiver.received.compactMap { $0.headers["webhook-id"] }
                #expect(ids.count == 16)
                #expect(Set(ids).count == 16)
            }
        }
    }

    @Test func deadlinesAreAnnouncedOnce() async throws {
        try await StaffFixture.withApp(settings: Self.settings) { fixture, client in
            let lead = try #require(try await client.create("/v1/leads", key: fixture.adminKey, #"{"name": "Ada"}"#)["id"] as? String)
            let soon = ISO8601DateFormatter().string(from: Date().addingTimeInterval(-26 * 86_400))
            let late = ISO8601DateFormatter().string(from: Date().addingTimeInterval(-45 * 86_400))
            for received in [soon, late, ISO8601DateFormatter().string(from: Date())] {
                _ = try await client.create(
                    "/v1/requests", key: fixture.adminKey,
                    #"{"kind": "access", "subject_type": "lead", "subject_id": "\#(lead)", "received_at": "\#(received)"}"#
                )
            }
            let cases = RequestCases(database: fixture.pool)
            #expect(try await cases.announceDeadlines() == 2)
            #expect(try await cases.announceDeadlines() == 0)
            let types = try await fixture.pool.query(
                "SELECT type FROM webhook_events WHERE type LIKE 'request.%due%' OR type = 'request.overdue' ORDER BY type"
            )
            .map { try $0.decode("type", as: String.self) }
            #expect(types == ["request.due_soon", "request.overdue"])
        }
    }

    @Test func endpointsAreAdminsOnlyAndValidated() async throws {
        try await StaffFixture.withApp(settings: Self.settings) { fixture, client in
            let staff = try await fixture.key(role: .staff)
            let body = #"{"url": "https://hooks.example.org/custodian", "events": ["subject.erased"]}"#
            #expect(try await client.send(.post, "/v1/webhooks", headers: headers(key: staff, json: true), body: body).status == .forbidden)
            for invalid in [
                #"{"url": "ftp://example.org", "events": ["subject.erased"]}"#, #"{"url": "https://example.org", "events": []}"#,
                #"{"url": "https://example.org", "events": ["lead.sold"]}"#,
                #"{"url": "https://user:secret@example.org/hook", "events": ["subject.erased"]}"#,
                #"{"url": "https://exämple.org/hook", "events": ["subject.erased"]}"#,
                #"{"url": "https://example.org:65536/hook", "events": ["subject.erased"]}"#,
            ] {
                let response = try await client.send(
                    .post, "/v1/webhooks", headers: headers(key: fixture.adminKey, json: true), body: invalid)
                #expect(response.status == .unprocessableContent, "\(invalid)")
            }
            let created = try await client.create("/v1/webhooks", key: fixture.adminKey, body)
            let id = try #require(created["id"] as? String)
            let read = try await client.send(.get, "/v1/webhooks/\(id)", headers: headers(key: fixture.adminKey))
            #expect(try read.json()["secret"] == nil)
            let paused = try await client.send(
                .patch, "/v1/webhooks/\(id)", headers: headers(key: fixture.adminKey, json: true), body: #"{"active": false}"#
            )
            #expect(try paused.json()["active"] as? Bool == false)
            #expect(try await client.send(.delete, "/v1/webhooks/\(id)", headers: headers(key: fixture.adminKey)).status == .noContent)
            #expect(try await client.send(.get, "/v1/webhooks/\(id)", headers: headers(key: fixture.adminKey)).status == .notFound)
            // A scheme is case-insensitive; it is kept in lower case.
            let shouted = try await client.create(
                "/v1/webhooks", key: fixture.adminKey, #"{"url": "HTTPS://hooks.example.org/x", "events": ["subject.erased"]}"#)
            #expect(shouted["url"] as? String == "https://hooks.example.org/x")
        }
    }
}
