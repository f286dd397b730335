import CoreMetrics
import Foundation
import Metrics
import Prometheus

/// The server's metrics, through swift-metrics into a Prometheus registry this server owns (so
/// each server, and each test's, counts on its own): `GET /metrics` writes the registry out.
/// Labels hold route patterns, methods, statuses, hosts and states — never a personal value or
/// an id.
public final class AppMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let factory: PrometheusMetricsFactory

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        // Most answers take a few milliseconds: finer buckets at the low end than the default.
        factory.defaultDurationHistogramBuckets = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(10),
        ]
        self.factory = factory
    }

    /// One answered request, by method, route pattern and status.
    func request(method: String, route: String, status: Int, duration: Duration) {
        let dimensions = [("method", method), ("route", route), ("status", String(status))]
        Counter(label: "custodian_http_requests_total", dimensions: dimensions, factory: factory).increment()
        Timer(label: "custodian_http_request_duration_seconds", dimensions: [("method", method), ("route", route)], factory: factory)
            .recordNanoseconds(duration.nanoseconds)
    }

    /// A statement ended by its time limit, or a request cancelled while at the database.
    func databaseInterruption(_ kind: String) {
        Counter(label: "custodian_db_interruptions_total", dimensions: [("kind", kind)], factory: factory).increment()
    }

    func gauge(_ label: String, _ dimensions: [(String, String)] = [], _ value: Double) {
        Gauge(label: label, dimensions: dimensions, factory: factory).record(value)
    }
}

extension Duration {
    var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}
