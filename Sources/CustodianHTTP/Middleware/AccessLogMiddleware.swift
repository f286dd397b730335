import Hummingbird

/// One log line per request — method, route, status, duration and the kind of actor (`staff`,
/// `integration`, `portal`, `link`, `person`, or `none` when nobody was authenticated) — and the
/// same, without the actor, in the request metrics (`custodian_http_requests_total`, `custodian_http_request_duration_seconds`).
///
/// The route is the pattern the request matched (`/v1/public/consent/{token}`), never the path
/// itself: paths carry consent tokens and record ids, and query strings carry searched names.
struct AccessLogMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let metrics: AppMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        var context = context
        let actor = RequestActor()
        context.actor = actor
        let response = try await next(request, context)
        let elapsed = ContinuousClock.now - started
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        metrics.request(method: request.method.rawValue, route: Self.route(context), status: response.status.code, duration: elapsed)
        context.logger.info(
            "request",
            metadata: [
                "http.method": "\(request.method)",
                "http.route": "\(Self.route(context))",
                "http.status": "\(response.status.code)",
                "duration_ms": "\((milliseconds * 1000).rounded() / 1000)",
                "actor": "\(actor.kind)",
            ]
        )
        return response
    }

    /// The matched route's pattern; requests that matched none are all alike in the log.
    static func route(_ context: Context) -> String {
        guard let pattern = context.endpointPath, pattern.hasPrefix("/") else { return "(no route)" }
        return pattern
    }
}
