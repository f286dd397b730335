import AsyncHTTPClient
import CustodianCore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// Delivers the outbox: claims due deliveries (shared safely by every server instance), sends
/// each signed as in Standard Webhooks, and settles it — delivered on a 2xx, else retried with
/// growing pauses until the event is a day old.
public struct WebhookDispatcher: Service {
    public struct Configuration: Sendable {
        /// How often an idle dispatcher looks for work.
        public var pollInterval: Duration
        /// The pause before attempt n + 1 is `firstRetryDelay` × 2^(n − 1), at most `maxRetryDelay`.
        public var firstRetryDelay: Duration
        public var maxRetryDelay: Duration
        public var giveUpAfter: Duration
        public var requestTimeout: Duration
        public var batchSize: Int

        public init(
            pollInterval: Duration = .seconds(1), firstRetryDelay: Duration = .seconds(10), maxRetryDelay: Duration = .seconds(3600),
            giveUpAfter: Duration = .seconds(86_400), requestTimeout: Duration = .seconds(10), batchSize: Int = 16
        ) {
            self.pollInterval = pollInterval
            self.firstRetryDelay = firstRetryDelay
            self.maxRetryDelay = maxRetryDelay
            self.giveUpAfter = giveUpAfter
            self.requestTimeout = requestTimeout
            self.batchSize = batchSize
        }
    }

    let deliveries: WebhookDeliveries
    let configuration: Configuration
    let logger: Logger

    public init(deliveries: WebhookDeliveries, configuration: Configuration = .init(), logger: Logger) {
        self.deliveries = deliveries
        self.configuration = configuration
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let sent: Int
            do {
                sent = try await runOnce()
            } catch {
                logger.warning("webhook dispatch failed", metadata: ["error": "\(error)"])
                sent = 0
            }
            if sent == 0 {
                do {
                    try await cancelWhenGracefulShutdown { try await Task.sleep(for: configuration.pollInterval) }
                } catch {
                    return
                }
            }
        }
    }

    /// Claims one batch and delivers it; returns how many deliveries were attempted.
    ///
    /// The batch's deliveries go out at once: the lease (three request timeouts) must outlast the
    /// whole batch, or another instance claims what is still unsent and it is delivered twice —
    /// one after another, 16 slow endpoints took far longer.
    @discardableResult
    public func runOnce() async throws -> Int {
        let lease = configuration.requestTimeout * 3
        let due = try await deliveries.claim(limit: configuration.batchSize, lease: lease)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for delivery in due {
                group.addTask { try await deliver(delivery) }
            }
            // One delivery that cannot be settled stops none of the others.
            var firstFailure: (any Error)?
            while let result = await group.nextResult() {
                if case .failure(let error) = result, firstFailure == nil { firstFailure = error }
            }
            if let firstFailure { throw firstFailure }
        }
        return due.count
    }

    private func deliver(_ delivery: WebhookDeliveries.Due) async throws {
        let outcome = await send(delivery)
        let exponent = min(max(delivery.attempt - 1, 0), 20)
        let delay = min(configuration.firstRetryDelay * (1 << exponent), configuration.maxRetryDelay)
        try await deliveries.settle(delivery, outcome: outcome, retryDelay: delay, giveUpAfter: configuration.giveUpAfter)
    }

    /// The request body: the type, when the event happened, and its data.
    static func body(_ delivery: WebhookDeliveries.Due) -> [UInt8] {
        JSONValue.object([
            "type": .string(delivery.type),
            "timestamp": .timestamp(delivery.eventCreatedAt),
            "data": delivery.data,
        ]).serialized()
    }

    private func send(_ delivery: WebhookDeliveries.Due) async -> WebhookDeliveries.Outcome {
        let started = ContinuousClock.now
        let body = Self.body(delivery)
        let id = "msg_" + delivery.eventID.lowercasedString
        let timestamp = Int(Date().timeIntervalSince1970)
        guard let signature = WebhookSignature.sign(id: id, timestamp: timestamp, body: body, secret: delivery.secret) else {
            return .init(responseStatus: nil, error: "the endpoint's secret is unusable", duration: .zero)
        }
        var request = HTTPClientRequest(url: delivery.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "Custodian-Webhooks/1")
        request.headers.add(name: "webhook-id", value: id)
        request.headers.add(name: "webhook-timestamp", value: "\(timestamp)")
        request.headers.add(name: "webhook-signature", value: signature)
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let timeout = TimeAmount.milliseconds(Int64(WebhookDeliveries.milliseconds(configuration.requestTimeout)))
            let response = try await HTTPClient.shared.execute(request, timeout: timeout)
            // The receiver's body is of no interest and is never stored; it is read only so that the
            // connection can be reused.
            _ = try? await response.body.collect(upTo: 64 * 1024)
            return .init(responseStatus: Int(response.status.code), error: nil, duration: ContinuousClock.now - started)
        } catch {
            return .init(responseStatus: nil, error: "\(type(of: error))", duration: ContinuousClock.now - started)
        }
    }
}
