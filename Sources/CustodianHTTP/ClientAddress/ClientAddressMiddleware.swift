import HTTPTypes
import Hummingbird

extension HTTPField.Name {
    static let xForwardedFor = Self("X-Forwarded-For")!
}

/// Finds the client's address once per request, for rate limits and the consent history.
///
/// Without trusted proxies it is the connection's peer. Behind proxies, X-Forwarded-For is read
/// from the right: each proxy appends the address it saw, so the entries right of the first
/// address that is not a trusted proxy were written by trusted proxies, and everything left of
/// it by the client, who may write anything. The first such address is the client.
struct ClientAddressMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let trustedProxies: [IPNetwork]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.clientIP = Self.clientAddress(
            peer: context.peerAddress, forwardedFor: request.headers[values: .xForwardedFor], trusting: trustedProxies)
        return try await next(request, context)
    }

    static func clientAddress(peer: IPAddress?, forwardedFor: [String], trusting proxies: [IPNetwork]) -> IPAddress? {
        guard var client = peer, !proxies.isEmpty else { return peer }
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        for hop in hops.reversed() {
            guard proxies.contains(where: { $0.contains(client) }) else { break }
            // A trusted proxy writes a valid address; anything else came from further left.
            guard let address = IPAddress(hop) else { break }
            client = address
        }
        return client
    }
}
