import CustodianCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Postgres

/// `GET /metrics`: the Prometheus text format, for a scraper holding the metrics token
/// (`CUSTODIAN_METRICS_TOKEN`; without one every request is refused with 401). What the database knows
/// (pool use, the webhook outbox, request cases by deadline) is read at each scrape.
struct MetricsRoutes {
    let metrics: AppMetrics
    /// SHA-256 of the token; nil: metrics are off.
    let tokenHash: [UInt8]?
    let database: PostgresPool
    let publicDatabase: PostgresPool

    func register(on routes: inout RouteTable) {
        routes.on(.get, "/metrics", use: scrape)
    }

    @Sendable func scrape(_ request: Request, _: AppRequestContext) async throws -> Response {
        let given = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        guard let tokenHash, let given, Secret.constantTimeEqual(Secret.hash(given), tokenHash) else {
            var headers = HTTPFields()
            headers[.wwwAuthenticate] = "Bearer"
            // With metrics off no token is right: the same 401, saying why.
            let detail = tokenHash == nil ? "metrics are off: the server has no CUSTODIAN_METRICS_TOKEN" : "the metrics token is required"
            throw ProblemError(.unauthorized, detail: detail, headers: headers)
        }
        try await collect()
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: metrics.registry.emitToBuffer())))
    }

    /// Sets the gauges read from the pools and the database.
    private func collect() async throws {
        for (name, pool) in [("api", database), ("public", publicDatabase)] {
            let usage = pool.usage
            metrics.gauge("custodian_db_pool_connections", [("pool", name), ("state", "lent")], Double(usage.lent))
            metrics.gauge("custodian_db_pool_connections", [("pool", name), ("state", "idle")], Double(usage.idle))
            metrics.gauge("custodian_db_pool_size", [("pool", name)], Double(pool.configuration.maxConnections))
            metrics.gauge("custodian_db_pool_waiting", [("pool", name)], Double(usage.waiting))
            let waits = pool.waitTotals
            metrics.counter("custodian_db_pool_waits_total", [("pool", name)], total: Double(waits.waits))
            metrics.counter("custodian_db_pool_wait_seconds_total", [("pool", name)], total: waits.seconds)
            metrics.counter("custodian_db_pool_acquire_timeouts_total", [("pool", name)], total: Double(waits.timeouts))
        }
        let cases = try await database.query(
            """
            SELECT count(*) AS open, count(*) FILTER (WHERE due_at <= now() + interval '7 days' AND due_at > now()) AS due_soon,
                   count(*) FILTER (WHERE due_at <= now()) AS overdue
            FROM request_cases WHERE status IN ('received', 'in_progress')
            """
        ).single()
        for state in ["open", "due_soon", "overdue"] {
            metrics.gauge("custodian_request_cases", [("state", state)], Double(try cases.decode(state, as: Int.self)))
        }
        // Per endpoint, named by its host; deliveries still to make and those that gave up.
        // Every endpoint with both states, so a count that fell to 0 says 0.
        let deliveries = try await database.query(
            """
            SELECT coalesce(substring(e.url FROM '^https?://([^/:?#]+)'), '') AS host, s.status,
                   count(d.id) AS n
            FROM webhook_endpoints e CROSS JOIN (VALUES ('pending'), ('failed')) AS s (status)
            LEFT JOIN webhook_deliveries d ON d.endpoint_id = e.id AND d.status = s.status
            GROUP BY 1, 2
            """)
        for row in deliveries {
            metrics.gauge(
                "custodian_webhook_deliveries", [("endpoint", try row.decode("host")), ("status", try row.decode("status"))],
                Double(try row.decode("n", as: Int.self)))
        }
    }
}
