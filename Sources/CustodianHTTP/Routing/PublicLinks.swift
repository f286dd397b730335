/// The links people are sent (their privacy centre, confirmations, unsubscribing, the customer
/// area's password and registration pages) must open where people are: by default they name the
/// address the server listens on, which is right only when that is this machine. A server
/// listening elsewhere must be told its public addresses.
public enum PublicLinks {
    /// The settings that give each link's public address.
    public static let settings = [
        "CUSTODIAN_CONSENT_LINK_BASE_URL", "CUSTODIAN_EMAIL_CONFIRMATION_BASE_URL", "CUSTODIAN_UNSUBSCRIBE_BASE_URL",
        "CUSTODIAN_PORTAL_LINK_BASE_URL", "CUSTODIAN_PORTAL_REGISTRATION_LINK_BASE_URL",
    ]

    /// Whether `host` is this machine only, where the default links work.
    public static func isLoopback(_ host: String) -> Bool {
        ["127.0.0.1", "::1", "localhost"].contains(host.lowercased()) || host.hasPrefix("127.")
    }

    /// The settings still to set before serving on `host`: none on a loopback address.
    public static func missing(listeningOn host: String, configured: Set<String>) -> [String] {
        isLoopback(host) ? [] : settings.filter { !configured.contains($0) }
    }
}
