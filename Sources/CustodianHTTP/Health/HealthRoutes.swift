import CustodianCore
import Hummingbird
import Logging
import Postgres
import Synchronization

/// Liveness and readiness for orchestrators and load balancers.
struct HealthRoutes {
    let readiness: ReadinessCheck

    /// Readiness must answer quickly even when every connection is busy: `databaseTimeout`.
    init(database: PostgresPool, databaseTimeout: Duration) {
        readiness = ReadinessCheck(database: database, timeout: databaseTimeout)
    }

    func register(on routes: inout RouteTable) {
        routes.on(.get, "/healthz", use: live)
        routes.on(.get, "/readyz", use: ready)
    }

    /// The process is up and serving HTTP; says nothing about the database.
    @Sendable func live(_: Request, _: AppRequestContext) async throws -> Response {
        JSONBody.response(.object(["status": .string("ok")]))
    }

    /// The database answers a query through the pool: 200, else 503. The answer is at most a
    /// second old: however often /readyz is asked, the database is asked once a second.
    @Sendable func ready(_: Request, context: AppRequestContext) async throws -> Response {
        guard await readiness.isReady(logger: context.logger) else {
            throw ProblemError.databaseUnavailable("the database did not answer")
        }
        return JSONBody.response(.object(["status": .string("ready")]))
    }
}

/// One database check shared by every /readyz request that comes within `maxAge` of its start.
final class ReadinessCheck: Sendable {
    let database: PostgresPool
    let timeout: Duration
    let maxAge: Duration
    private let latest = Mutex<(started: ContinuousClock.Instant, outcome: Task<Bool, Never>)?>(nil)

    init(database: PostgresPool, timeout: Duration, maxAge: Duration = .seconds(1)) {
        self.database = database
        self.timeout = timeout
        self.maxAge = maxAge
    }

    func isReady(logger: Logger) async -> Bool {
        let outcome = latest.withLock { latest -> Task<Bool, Never> in
            let now = ContinuousClock.now
            if let latest, now - latest.started < maxAge { return latest.outcome }
            let check = Task { [database, timeout] in
                do {
                    _ = try await database.withConnection(timeout: timeout) { try await $0.query("SELECT 1") }
                    return true
                } catch {
                    logger.warning("not ready: database check failed", metadata: ["error": "\(error)"])
                    return false
                }
            }
            latest = (now, check)
            return check
        }
        return await outcome.value
    }
}
