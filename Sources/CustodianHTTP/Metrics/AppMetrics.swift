import CoreMetrics
import Foundation
import Metrics
import Prometheus
import Synchronization

/// The server's metrics, through swift-metrics into a Prometheus registry this server owns (so
/// each server, and each test's, counts on its own): `GET /metrics` writes the registry out.
/// Labels hold route patterns, methods, statuses, hosts and states — never a personal value or
/// an id.
public final class AppMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let factory: PrometheusMetricsFactory
    /// What `total` last reported per counter, so that a total kept elsewhere becomes increments.
    private let reportedTotals = Mutex<[String: Double]>([:])

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        // Most answers take a few milliseconds: finer buckets at the low end than the default.
        factory.defaultDurationHistogramBuckets = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(10),
        ]
        // A feed's pollers are seconds to a day behind, not milliseconds.
        factory.durationHistogramBuckets[Self.feedLag] = [
            .seconds(1), .seconds(5), .seconds(15), .seconds(60), .seconds(300), .seconds(900), .seconds(3600), .seconds(21600),
            .seconds(86400),
        ]
        self.factory = factory
    }

    static let feedLag = "custodian_feed_lag_seconds"

    /// One attempt to deliver a webhook message, by the endpoint's host (never its path, which
    /// may hold a token) and whether the receiver took it.
    func webhookAttempt(url: String, delivered: Bool, duration: Duration) {
        let host = URL(string: url)?.host ?? ""
        Counter(
            label: "custodian_webhook_attempts_total", dimensions: [("endpoint", host), ("outcome", delivered ? "delivered" : "failed")],
            factory: factory
        ).increment()
        Timer(label: "custodian_webhook_attempt_duration_seconds", dimensions: [("endpoint", host)], factory: factory)
            .recordNanoseconds(duration.nanoseconds)
    }

    /// How far behind a poller of `feed` was when it polled (see `Feeds.poll`).
    func feedLag(feed: String, _ lag: Duration) {
        Timer(label: Self.feedLag, dimensions: [("feed", feed)], factory: factory).recordNanoseconds(lag.nanoseconds)
    }

    private struct RequestKey: Hashable {
        let method: String
        let route: String
        let status: Int
    }

    /// The counter and timer of each method, route and status seen: made once, not per request
    /// (making one looks it up in the registry under its lock, with its labels built anew).
    private let requestMetrics = Mutex<[RequestKey: (CoreMetrics.Counter, CoreMetrics.Timer)]>([:])

    /// Methods named in labels; any other (a client may send any token) is `other`, so that
    /// labels, and the metrics kept, stay bounded.
    private static let labelledMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

    /// One answered request, by method, route pattern and status.
    func request(method: String, route: String, status: Int, duration: Duration) {
        let method = Self.labelledMethods.contains(method) ? method : "other"
        let key = RequestKey(method: method, route: route, status: status)
        let (counter, timer) = requestMetrics.withLock { known in
            if let made = known[key] { return made }
            let made = (
                Counter(
                    label: "custodian_http_requests_total", dimensions: [("method", method), ("route", route), ("status", String(status))],
                    factory: factory),
                Timer(
                    label: "custodian_http_request_duration_seconds", dimensions: [("method", method), ("route", route)], factory: factory)
            )
            known[key] = made
            return made
        }
        counter.increment()
        timer.recordNanoseconds(duration.nanoseconds)
    }

    /// A statement ended by its time limit, or a request cancelled while at the database.
    func databaseInterruption(_ kind: String) {
        Counter(label: "custodian_db_interruptions_total", dimensions: [("kind", kind)], factory: factory).increment()
    }

    func gauge(_ label: String, _ dimensions: [(String, String)] = [], _ value: Double) {
        Gauge(label: label, dimensions: dimensions, factory: factory).record(value)
    }

    /// A counter whose source keeps the total itself (the pool counts its waits): brought up to
    /// `total`, so that Prometheus sees an ordinary counter.
    func counter(_ name: String, _ labels: [(String, String)], total: Double) {
        let counter = registry.makeCounter(name: name, labels: labels)
        let key = name + "{" + labels.map { $0.0 + "=" + $0.1 }.joined(separator: ",") + "}"
        reportedTotals.withLock { reported in
            let increase = total - (reported[key] ?? 0)
            if increase > 0 { counter.increment(by: increase) }
            reported[key] = max(total, reported[key] ?? 0)
        }
    }
}

extension Duration {
    var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}
