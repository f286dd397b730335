/// Where webhooks may go: public addresses only, over https unless plain http is allowed. A
/// webhook URL is chosen by whoever holds an admin key; without this it could make the server
/// post to its own database port, the cloud's metadata service or anything else on the inside,
/// and read the outcome from the deliveries list.
public struct WebhookDestinationPolicy: Sendable {
    /// Networks that are not public but that the operator allows all the same (an internal
    /// receiver, tests on 127.0.0.1). The unspecified and metadata addresses stay refused.
    public var allowedNetworks: [IPNetwork]
    /// Plain http endpoints may be registered and delivered to.
    public var allowsPlainHTTP: Bool

    public init(allowedNetworks: [IPNetwork] = [], allowsPlainHTTP: Bool = false) {
        self.allowedNetworks = allowedNetworks
        self.allowsPlainHTTP = allowsPlainHTTP
    }

    /// Whether the server may connect to `address`.
    public func permits(_ address: IPAddress) -> Bool {
        if Self.alwaysRefused.contains(where: { $0.contains(address) }) { return false }
        if allowedNetworks.contains(where: { $0.contains(address) }) { return true }
        return !Self.notPublic.contains(where: { $0.contains(address) })
    }

    /// Whether `scheme` (lower case) may be used.
    public func permits(scheme: String) -> Bool {
        scheme == "https" || (scheme == "http" && allowsPlainHTTP)
    }

    /// Why an endpoint URL can never be delivered to, judged from the URL alone: a scheme that is
    /// not allowed, or a host that is an address (in any form a resolver reads as one) or a
    /// `localhost` name the policy refuses. Names are checked again, resolved, at every delivery.
    public func refusal(scheme: String, host: String) -> String? {
        guard permits(scheme: scheme) else {
            return "must be an https URL (this server does not allow plain http endpoints)"
        }
        let lowered = host.lowercased()
        let literal =
            lowered == "localhost" || lowered.hasSuffix(".localhost")
            ? [IPAddress("127.0.0.1")].compactMap { $0 } : WebhookSender.addresses(of: host, literalOnly: true)
        guard literal.allSatisfy(permits) else {
            return "must not point at a loopback, private, link-local, metadata or other non-public address"
        }
        return nil
    }

    /// Refused even inside an allowed network: "this host" (0.0.0.0 reaches the server's own
    /// ports on Linux) and the cloud metadata services.
    static let alwaysRefused: [IPNetwork] = networks([
        "0.0.0.0/8", "::/128", "169.254.169.254/32", "169.254.170.2/32", "100.100.100.200/32", "fd00:ec2::254/128",
    ])

    /// Every IANA special-purpose range that is not globally reachable, and the ranges that embed
    /// an IPv4 address in an IPv6 one (a way round the IPv4 list through a gateway).
    static let notPublic: [IPNetwork] = networks([
        // IPv4
        "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24",
        "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        // IPv6 (IPv4-mapped addresses are checked as the IPv4 address they carry)
        "::/96", "::1/128", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32", "2002::/16", "fc00::/7",
        "fe80::/10", "fec0::/10", "ff00::/8",
    ])

    private static func networks(_ texts: [String]) -> [IPNetwork] {
        texts.compactMap { IPNetwork($0) }
    }
}
