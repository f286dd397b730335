#if canImport(Glibc)
    import Glibc
#endif

/// An IPv4 or IPv6 address, parsed strictly (no host names, no ports, no zone ids). IPv4-mapped
/// IPv6 addresses (`::ffff:192.0.2.1`) are taken as the IPv4 address they carry.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// 4 bytes for IPv4, 16 for IPv6.
    public let bytes: [UInt8]

    public var isIPv4: Bool { bytes.count == 4 }

    public init?(_ text: some StringProtocol) {
        let text = String(text)
        guard !text.isEmpty, text.utf8.count <= 45 else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
            return
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        bytes = Self.unmapped(withUnsafeBytes(of: &v6) { Array($0) })
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    /// The address of an `AF_INET` or `AF_INET6` socket address (what getaddrinfo answers);
    /// IPv4-mapped IPv6 addresses become the IPv4 address they carry, as above.
    init?(socketAddress: UnsafePointer<sockaddr>) {
        switch Int32(socketAddress.pointee.sa_family) {
        case AF_INET:
            var address = socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
            bytes = withUnsafeBytes(of: &address) { Array($0) }
        case AF_INET6:
            var address = socketAddress.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
            bytes = Self.unmapped(withUnsafeBytes(of: &address) { Array($0) })
        default:
            return nil
        }
    }

    /// An IPv6 address's 16 bytes, or the 4 of the IPv4 address it maps (`::ffff:a.b.c.d`).
    private static func unmapped(_ raw: [UInt8]) -> [UInt8] {
        raw[0..<10].allSatisfy { $0 == 0 } && raw[10] == 0xff && raw[11] == 0xff ? Array(raw[12...]) : raw
    }

    /// The canonical text form (`2001:db8::1`, `192.0.2.1`).
    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = isIPv4 ? AF_INET : AF_INET6
        let written = bytes.withUnsafeBytes { raw in inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) }
        guard written != nil else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The address with every bit after the first `prefixLength` cleared.
    func masked(to prefixLength: Int) -> IPAddress {
        var masked = bytes
        for index in masked.indices {
            let bitsBefore = index * 8
            if bitsBefore >= prefixLength {
                masked[index] = 0
            } else if prefixLength - bitsBefore < 8 {
                masked[index] &= UInt8(0xff) << (8 - (prefixLength - bitsBefore))
            }
        }
        return IPAddress(bytes: masked)
    }

    /// Who a rate limit counts: the address itself for IPv4, its /64 for IPv6 (one subscriber
    /// usually holds a whole /64 and could otherwise pick a fresh address per request).
    public var rateLimitKey: String {
        isIPv4 ? description : masked(to: 64).description + "/64"
    }
}

/// A network in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`); a bare address is a /32 or /128.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(parts[0]) else { return nil }
        let writtenAsIPv6 = parts[0].contains(":")
        var prefixLength = address.bytes.count * 8
        if parts.count == 2 {
            guard let length = Int(parts[1]), (0...(writtenAsIPv6 ? 128 : 32)).contains(length) else { return nil }
            // An IPv4-mapped network (::ffff:10.0.0.0/104) is the IPv4 network it maps.
            prefixLength = writtenAsIPv6 && address.isIPv4 ? length - 96 : length
            guard prefixLength >= 0 else { return nil }
        }
        self.address = address.masked(to: prefixLength)
        self.prefixLength = prefixLength
    }

    public func contains(_ candidate: IPAddress) -> Bool {
        candidate.bytes.count == address.bytes.count && candidate.masked(to: prefixLength) == address
    }

    public var description: String { "\(address)/\(prefixLength)" }
}
