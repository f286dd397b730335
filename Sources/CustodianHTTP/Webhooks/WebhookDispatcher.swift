import CustodianCore
import Foundation
import JSONText
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
        /// One deadline for a whole attempt: lookup, connect, request, response and its body.
        public var requestTimeout: Duration
        /// Deliveries in flight at once (and the most one claim takes).
        public var batchSize: Int
        /// Where deliveries may go.
        public var destinations: WebhookDestinationPolicy

        public init(
            pollInterval: Duration = .seconds(1), firstRetryDelay: Duration = .seconds(10), maxRetryDelay: Duration = .seconds(3600),
            giveUpAfter: Duration = .seconds(86_400), requestTimeout: Duration = .seconds(10), batchSize: Int = 16,
            destinations: WebhookDestinationPolicy = .init()
        ) {
            self.pollInterval = pollInterval
            self.firstRetryDelay = firstRetryDelay
            self.maxRetryDelay = maxRetryDelay
            self.giveUpAfter = giveUpAfter
            self.requestTimeout = requestTimeout
            self.batchSize = batchSize
            self.destinations = destinations
        }

        /// A claimed delivery is another instance's to retry after this: every attempt ends by its
        /// deadline, so three of them leave room for settling it.
        var lease: Duration { requestTimeout * 3 }
    }

    let deliveries: WebhookDeliveries
    let configuration: Configuration
    let logger: Logger
    let sender: WebhookSender
    let metrics: AppMetrics?

    public init(deliveries: WebhookDeliveries, configuration: Configuration = .init(), logger: Logger, metrics: AppMetrics? = nil) {
        self.deliveries = deliveries
        self.configuration = configuration
        self.logger = logger
        self.metrics = metrics
        self.sender = WebhookSender(policy: configuration.destinations, deadline: configuration.requestTimeout)
    }

    /// Keeps up to `batchSize` deliveries in flight and claims more as soon as any of them ends:
    /// a slow receiver holds one slot until its deadline, never the others.
    public func run() async throws {
        await withTaskGroup(of: Bool.self) { group in
            var inFlight = 0
            var pausing = false
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                var claimed: [WebhookDeliveries.Due] = []
                if inFlight < configuration.batchSize {
                    do {
                        claimed = try await deliveries.claim(limit: configuration.batchSize - inFlight, lease: configuration.lease)
                    } catch {
                        logger.warning("webhook dispatch failed", metadata: ["error": "\(error)"])
                    }
                }
                for delivery in claimed {
                    inFlight += 1
                    group.addTask {
                        await deliverLoggingFailure(delivery)
                        return true
                    }
                }
                guard claimed.isEmpty else { continue }
                // Nothing to claim (or no free slot): wait for a delivery to end or the poll interval.
                if !pausing {
                    pausing = true
                    group.addTask {
                        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: configuration.pollInterval) }
                        return false
                    }
                }
                guard let finished = await group.next() else { break }
                if finished { inFlight -= 1 } else { pausing = false }
            }
        }
    }

    /// Claims one batch and delivers it all at once; returns how many deliveries were attempted.
    @discardableResult
    public func runOnce() async throws -> Int {
        let due = try await deliveries.claim(limit: configuration.batchSize, lease: configuration.lease)
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

    private func deliverLoggingFailure(_ delivery: WebhookDeliveries.Due) async {
        do {
            try await deliver(delivery)
        } catch {
            logger.warning("webhook delivery could not be settled", metadata: ["error": "\(error)"])
        }
    }

    private func deliver(_ delivery: WebhookDeliveries.Due) async throws {
        let outcome = await send(delivery)
        metrics?.webhookAttempt(url: delivery.url, delivered: outcome.succeeded, duration: outcome.duration)
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
        if let unusable = delivery.unusable {
            return .init(responseStatus: nil, error: unusable, duration: .zero)
        }
        let started = ContinuousClock.now
        let body = Self.body(delivery)
        let id = "msg_" + delivery.eventID.lowercasedString
        let timestamp = Int(Date().timeIntervalSince1970)
        guard let signature = WebhookSignature.sign(id: id, timestamp: timestamp, body: body, secret: delivery.secret) else {
            return .init(responseStatus: nil, error: "the endpoint's secret is unusable", duration: .zero)
        }
        var headers = [
            ("Content-Type", "application/json"), ("User-Agent", "Custodian-Webhooks/1"), ("webhook-id", id),
            ("webhook-timestamp", "\(timestamp)"), ("webhook-signature", signature),
        ]
        // Each delivery is a new span of the trace that caused the event.
        if let trace = delivery.trace { headers.append(("traceparent", trace.header())) }
        let (status, error) = await sender.post(url: delivery.url, headers: headers, body: body)
        return .init(responseStatus: status, error: error, duration: ContinuousClock.now - started)
    }
}
