import CustodianCore
import Hummingbird
import Postgres

/// Liveness and readiness for orchestrators and load balancers.
struct HealthRoutes {
    let database: PostgresPool
    /// Readiness must answer quickly even when every connection is busy.
    let databaseTimeout: Duration

    func register(on routes: inout RouteTable) {
        routes.on(.get, "/healthz", use: live)
        routes.on(.get, "/readyz", use: ready)
    }

    /// The process is up and serving HTTP; says nothing about the database.
    @Sendable func live(_: Request, _: AppRequestContext) async throws -> Response {
        JSONBody.response(.object(["status": .string("ok")]))
    }

    /// The database answers a query through the pool: 200, else 503.
    @Sendable func ready(_: Request, context: AppRequestContext) async throws -> Response {
        do {
            _ = try await database.withConnection(timeout: databaseTimeout) { try await $0.query("SELECT 1") }
        } catch {
            context.logger.warning("not ready: database check failed", metadata: ["error": "\(error)"])
            throw ProblemError.databaseUnavailable("the database did not answer")
        }
        return JSONBody.response(.object(["status": .string("ready")]))
    }
}
