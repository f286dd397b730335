import Hummingbird
import Postgres

/// Liveness and readiness for orchestrators and load balancers.
struct HealthRoutes {
    let database: PostgresPool
    /// Readiness must answer quickly even when every connection is busy.
    let databaseTimeout: Duration

    struct Status: Encodable {
        let status: String
    }

    func register(on routes: inout RouteTable) {
        routes.on(.get, "/healthz", use: live)
        routes.on(.get, "/readyz", use: ready)
    }

    /// The process is up and serving HTTP; says nothing about the database.
    @Sendable func live(_: Request, _: AppRequestContext) async throws -> Response {
        try JSONBody.response(Status(status: "ok"))
    }

    /// The database answers a query through the pool: 200, else 503.
    @Sendable func ready(_: Request, context: AppRequestContext) async throws -> Response {
        do {
            _ = try await database.withConnection(timeout: databaseTimeout) { try await $0.query("SELECT 1") }
        } catch {
            context.logger.warning("not ready: database check failed", metadata: ["error": "\(error)"])
            var headers = HTTPFields()
            headers[.retryAfter] = "5"
            throw ProblemError(.databaseUnavailable, detail: "the database did not answer", headers: headers)
        }
        return try JSONBody.response(Status(status: "ready"))
    }
}
