import HTTPTypes
import Hummingbird

/// Lets browser frontends on other origins call the JSON API: only origins on the allow-list
/// (`CUSTODIAN_CORS_ORIGINS`, exact `scheme://host[:port]`), never a wildcard. Staff and
/// customer-area calls authenticate with the `Authorization` header, not cookies, so credentials
/// are never allowed. A preflight from an allowed origin is answered here (204); from any other
/// origin it gets no CORS headers and the browser stops there.
struct CORSMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    /// Origins as browsers send them; compared exactly, case included, except a trailing slash.
    let allowedOrigins: Set<String>

    static let allowedMethods = "GET, POST, PATCH, DELETE"
    static let allowedHeaders = "Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key, X-Request-Id"
    static let exposedHeaders = "ETag, Location, Retry-After, Idempotent-Replayed, X-Request-Id, Content-Disposition"
    /// How long a browser may reuse a preflight's answer.
    static let preflightMaxAge = "600"

    init(allowedOrigins: [String]) {
        self.allowedOrigins = Set(allowedOrigins.map(Self.normalized))
    }

    static func normalized(_ origin: String) -> String {
        origin.hasSuffix("/") ? String(origin.dropLast()) : origin
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.uri.path.hasPrefix("/v1/"), let origin = request.headers[.origin] else {
            return try await next(request, context)
        }
        let allowed = allowedOrigins.contains(Self.normalized(origin))
        if allowed, request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            var headers = HTTPFields()
            headers[.accessControlAllowOrigin] = origin
            headers[.accessControlAllowMethods] = Self.allowedMethods
            headers[.accessControlAllowHeaders] = Self.allowedHeaders
            headers[.accessControlMaxAge] = Self.preflightMaxAge
            headers[.vary] = "Origin"
            return Response(status: .noContent, headers: headers)
        }
        var response = try await next(request, context)
        // The answer depends on Origin whenever an allow-list exists: caches must keep them apart.
        response.headers[.vary] = response.headers[.vary].map { $0 + ", Origin" } ?? "Origin"
        if allowed {
            response.headers[.accessControlAllowOrigin] = origin
            response.headers[.accessControlExposeHeaders] = Self.exposedHeaders
        }
        return response
    }
}
