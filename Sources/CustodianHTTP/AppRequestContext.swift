import Hummingbird
import NIOCore

/// Per-request state shared by middleware and handlers.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `RequestIDMiddleware` before anything else runs.
    public var requestID: String = ""

    /// The peer's IP address, as the connection shows it (a proxy in front shows its own).
    public let peerAddress: IPAddress?
    /// The client's address: the peer, or behind trusted proxies the one they forwarded. Set by
    /// `ClientAddressMiddleware`.
    public var clientIP: IPAddress?
    /// The connection the request came on, to notice a client that went away.
    let channel: any Channel
    /// Who acted, for the access log line (set by `AccessLogMiddleware`).
    var actor: RequestActor?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
        self.peerAddress = source.channel.remoteAddress?.ipAddress.flatMap { IPAddress($0) }
        self.clientIP = peerAddress
    }
}
