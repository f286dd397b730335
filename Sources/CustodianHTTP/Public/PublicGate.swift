import CustodianCore
import Hummingbird
import NIOCore

/// What every public (keyless) request passes before it may touch the database: a cap on how
/// many run at once in this process, a check of the token's shape, and the rate limit per
/// client (counted in process first, then in PostgreSQL). Together with the public endpoints'
/// own small connection pool, no flood of public requests can starve the staff API.
///
/// The body is read whole, under a deadline, before a slot is taken: a client that sends a byte
/// a minute holds its own connection, never one of the slots everybody else needs.
final class PublicGate: Sendable {
    let limiter: RateLimiter
    let running: InFlightLimit
    let maxBodyBytes: Int
    let bodyReadTimeout: Duration

    init(limiter: RateLimiter, maxConcurrent: Int, maxBodyBytes: Int = 1 << 20, bodyReadTimeout: Duration = .seconds(10)) {
        self.limiter = limiter
        self.running = InFlightLimit(max: maxConcurrent)
        self.maxBodyBytes = maxBodyBytes
        self.bodyReadTimeout = bodyReadTimeout
    }

    /// The request with its body read into memory, or 408 when it did not arrive in time.
    private func withBodyRead(_ request: Request) async throws -> Request {
        let body = request.body
        let limit = maxBodyBytes
        let buffer: ByteBuffer
        do {
            buffer = try await withDeadline(bodyReadTimeout) { try await body.collect(upTo: limit) }
        } catch is DeadlineExceeded {
            // The rest of the body may still trickle in: the connection is not worth keeping.
            throw ProblemError(
                .requestTimeout, detail: "the request body did not arrive within \(bodyReadTimeout)", headers: [.connection: "close"])
        } catch is NIOTooManyBytesError {
            throw ProblemError(.payloadTooLarge, detail: "the body may be at most \(limit) bytes")
        }
        var request = request
        request.body = RequestBody(buffer: buffer)
        return request
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
            let request = try await withBodyRead(request)
            guard running.enter() else { throw ProblemError.busy("too many public requests at once; try again in a moment") }
            defer { running.leave() }
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
                throw ProblemError.tooManyRequests("requests", retryAfterSeconds: seconds)
            }
            // Changes made from the public side are a person's (through a form or a token) unless
            // the handler knows better (a link, a portal session).
            return try await AuditedRequests.actor(.person, context: context).acting { try await handler(request, context) }
        }
    }
}
