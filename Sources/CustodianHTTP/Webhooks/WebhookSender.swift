import AsyncHTTPClient
import CustodianCore
import Foundation
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// Sends one delivery: resolves the endpoint's host, refuses it unless every address it resolves
/// to is one the policy permits, connects to the address it checked (no second lookup that a
/// short-lived DNS answer could change), follows no redirect, and gives the whole attempt — lookup,
/// connect, request, response and its body — one deadline.
struct WebhookSender: Sendable {
    let policy: WebhookDestinationPolicy
    let deadline: Duration

    /// Why an attempt never reached the receiver; the text is what the deliveries list shows.
    enum Refusal: Error, CustomStringConvertible {
        case unusableURL
        case scheme(String)
        case unresolved
        case addressNotAllowed
        case timedOut

        var description: String {
            switch self {
            case .unusableURL: "the endpoint's URL cannot be parsed"
            case .scheme(let scheme): "\(scheme) endpoints are not allowed on this server (https only)"
            case .unresolved: "the endpoint's host name did not resolve"
            case .addressNotAllowed:
                "the endpoint's host is not a public address (loopback, private, link-local or reserved); "
                    + "allow its network with CUSTODIAN_WEBHOOK_ALLOWED_NETWORKS if it is meant"
            case .timedOut: "no complete answer within the delivery deadline"
            }
        }
    }

    /// Posts `body` with `headers` to `url`; the receiver's status, or why there is none.
    func post(url: String, headers: [(String, String)], body: [UInt8]) async -> (status: Int?, error: String?) {
        do {
            let status = try await withDeadline(deadline) { try await attempt(url: url, headers: headers, body: body) }
            return (status, nil)
        } catch let refusal as Refusal {
            return (nil, refusal.description)
        } catch is DeadlineExceeded {
            return (nil, Refusal.timedOut.description)
        } catch {
            return (nil, "\(type(of: error))")
        }
    }

    private func attempt(url text: String, headers: [(String, String)], body: [UInt8]) async throws -> Int {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty else {
            throw Refusal.unusableURL
        }
        guard policy.permits(scheme: scheme) else { throw Refusal.scheme(scheme) }
        let addresses = try await Self.resolve(host)
        guard let address = addresses.first else { throw Refusal.unresolved }
        guard addresses.allSatisfy(policy.permits) else { throw Refusal.addressNotAllowed }

        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: TimeAmount(deadline), read: TimeAmount(deadline))
        )
        // The name stays the request's Host and the name TLS verifies; the connection goes to
        // the address checked above.
        configuration.dnsOverride = [host: address.description]
        let client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
        do {
            var request = HTTPClientRequest(url: text)
            request.method = .POST
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            request.body = .bytes(ByteBuffer(bytes: body))
            let response = try await client.execute(request, timeout: TimeAmount(deadline))
            // The receiver's body is of no interest and never stored; it is read (up to 64 KiB,
            // under the same deadline) so that the exchange ends cleanly.
            _ = try? await response.body.collect(upTo: 64 * 1024)
            try await client.shutdown()
            return Int(response.status.code)
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// Every address `host` resolves to (a literal resolves to itself, in whatever form the
    /// resolver accepts it: `2130706433` and `0x7f.1` are 127.0.0.1). getaddrinfo blocks, so it
    /// runs on NIO's thread pool.
    static func resolve(_ host: String) async throws -> [IPAddress] {
        try await NIOThreadPool.singleton.runIfActive { addresses(of: host, literalOnly: false) }
    }

    /// The addresses of `host`; with `literalOnly`, only when it is an address written in any form
    /// the resolver reads as one (no lookup happens then, so it does not block).
    static func addresses(of host: String, literalOnly: Bool) -> [IPAddress] {
        let name = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        if literalOnly { hints.ai_flags = AI_NUMERICHOST }
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &list) == 0, let first = list else { return [] }
        defer { freeaddrinfo(first) }
        var addresses: [IPAddress] = []
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            if let socketAddress = current.pointee.ai_addr, let address = IPAddress(socketAddress: socketAddress) {
                addresses.append(address)
            }
            entry = current.pointee.ai_next
        }
        return addresses
    }

}
