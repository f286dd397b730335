import Hummingbird
import Postgres

/// Lets the database layer see that a request's client closed its connection, so that a
/// statement still running for it is cancelled on the server instead of finishing for nobody.
struct AbandonedRequestMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let channel = context.channel
        // A connection that is not open to begin with (an in-process test client) has nothing to watch.
        guard channel.isActive else { return try await next(request, context) }
        return try await StatementScope.$watch.withValue(StatementScope.Watch { !channel.isActive }) {
            try await next(request, context)
        }
    }
}
