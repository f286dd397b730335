import CustodianHTTP
import Testing

/// Links people are sent name the server's own address by default: right on this machine only.
/// Serving on any other address needs every public address set, or `serve` refuses to start.
@Suite("Public links: a server listening beyond this machine must be told its public addresses")
struct PublicLinksTests {
    @Test func loopbackNeedsNothingAnyOtherAddressNeedsEveryLink() {
        for host in ["127.0.0.1", "127.0.0.2", "::1", "localhost"] {
            #expect(PublicLinks.missing(listeningOn: host, configured: []).isEmpty, "\(host)")
        }
        #expect(PublicLinks.missing(listeningOn: "0.0.0.0", configured: []) == PublicLinks.settings)
        let most = Set(PublicLinks.settings.dropLast())
        #expect(PublicLinks.missing(listeningOn: "10.0.0.5", configured: most) == ["CUSTODIAN_PORTAL_REGISTRATION_LINK_BASE_URL"])
        #expect(PublicLinks.missing(listeningOn: "0.0.0.0", configured: Set(PublicLinks.settings)).isEmpty)
    }
}
