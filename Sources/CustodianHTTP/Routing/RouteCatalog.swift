import Hummingbird

/// Every endpoint the server serves, by OpenAPI path template (`/v1/leads/{id}`).
///
/// The catalogue answers 405 with `Allow` for a known path and an unknown method, and lets the
/// contract test compare the served endpoints with `openapi.yaml` in both directions.
public final class RouteCatalog: Sendable {
    public struct Endpoint: Hashable, Sendable {
        public let method: HTTPRequest.Method
        /// The OpenAPI path template, e.g. `/v1/leads/{id}`.
        public let path: String
    }

    public let endpoints: [Endpoint]

    init(endpoints: [Endpoint]) { self.endpoints = endpoints }

    func allowedMethods(forPath path: String) -> [HTTPRequest.Method] {
        let segments = Self.segments(path)
        return endpoints.filter { Self.matches(template: Self.segments($0.path), path: segments) }.map(\.method)
    }

    private static func segments(_ path: String) -> [Substring] {
        path.split(separator: "/", omittingEmptySubsequences: true)
    }

    private static func matches(template: [Substring], path: [Substring]) -> Bool {
        guard template.count == path.count else { return false }
        return zip(template, path).allSatisfy { pattern, segment in
            (pattern.hasPrefix("{") && pattern.hasSuffix("}")) || pattern == segment
        }
    }
}

/// The endpoints to serve, collected before the router is built so that middleware which needs
/// the whole catalogue (405 answers) can be installed ahead of every route.
public struct RouteTable {
    public typealias Handler = @Sendable (Request, AppRequestContext) async throws -> Response

    struct Definition {
        let endpoint: RouteCatalog.Endpoint
        let handler: Handler
    }

    private(set) var definitions: [Definition] = []

    public init() {}

    /// Adds an endpoint under its OpenAPI path template (`/v1/leads/{id}`).
    public mutating func on(_ method: HTTPRequest.Method, _ path: String, use handler: @escaping Handler) {
        definitions.append(.init(endpoint: .init(method: method, path: path), handler: handler))
    }

    var catalog: RouteCatalog { RouteCatalog(endpoints: definitions.map(\.endpoint)) }

    func install(on router: Router<AppRequestContext>) {
        for definition in definitions {
            // Hummingbird spells path parameters `:id` where OpenAPI spells them `{id}`.
            let path = definition.endpoint.path.split(separator: "/", omittingEmptySubsequences: false).map { segment in
                segment.hasPrefix("{") && segment.hasSuffix("}") ? ":" + segment.dropFirst().dropLast() : segment
            }.joined(separator: "/")
            router.on(RouterPath(path), method: definition.endpoint.method, use: definition.handler)
        }
    }
}
