import CustodianCore
import Hummingbird
import Synchronization

/// What every public (keyless) request passes before it may touch the database: a cap on how
/// many run at once in this process, a check of the token's shape, and the rate limit per
/// client (counted in process first, then in PostgreSQL). Together with the public endpoints'
/// own small connection pool, no flood of public requests can starve the staff API.
final class PublicGate: Sendable {
    let limiter: RateLimiter
    let maxConcurrent: Int
    private let running = Atomic<Int>(0)

    init(limiter: RateLimiter, maxConcurrent: Int) {
        self.limiter = limiter
        self.maxConcurrent = max(1, maxConcurrent)
    }

    /// Wraps a public handler. `tokenLooksValid` says, without the database, whether the request's
    /// token could be one; one that cannot gets `notFound` at once (and still counts, in process).
    /// Without a token (nil), requests are counted in process only: for cheap, cacheable reads.
    func guarding(
        scope: String,
        tokenLooksValid: (@Sendable (AppRequestContext) -> Bool)?,
        notFound: @escaping @Sendable () -> ProblemError = { ProblemError(.notFound) },
        _ handler: @escaping RouteTable.Handler
    ) -> RouteTable.Handler {
        { [self] request, context in
            guard running.add(1, ordering: .relaxed).newValue <= maxConcurrent else {
                running.subtract(1, ordering: .relaxed)
                throw ProblemError.busy("too many public requests at once; try again in a moment")
            }
            defer { running.subtract(1, ordering: .relaxed) }
            let client = context.clientIP?.rateLimitKey ?? "unknown"
            let decision: RateLimiter.Decision
            switch tokenLooksValid?(context) {
            case true?:
                decision = try await limiter.hit(scope: scope, client: client)
            case false?:
                decision = limiter.countLocally(scope: scope, client: client)
                if decision == .allowed { throw notFound() }
            case nil:
                decision = limiter.countLocally(scope: scope, client: client)
            }
            if case .refused(let seconds) = decision {
                var headers = HTTPFields()
                headers[.retryAfter] = "\(seconds)"
                throw ProblemError(
                    .tooManyRequests, detail: "too many requests from your address; try again in \(seconds) s", headers: headers
                )
            }
            return try await handler(request, context)
        }
    }
}
