import CustodianCore
import CustodianHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

/// Guessing passwords and keys costs the guesser, not the server: bcrypt runs a bounded number
/// of times at once, a locked account never reaches it, a stolen session guesses no faster than a
/// login, a success clears no throttle, resets are counted per account, and failed staff keys
/// are throttled per address before the database is asked.
@Suite("Floods of logins, resets and keys cannot wear the server down")
struct AuthenticationFloodTests {
    /// bcrypt slow enough (cost 13, about half a second here) that two checks overlap, and one
    /// check at a time.
    static let slowSingleHasher = ServerSettings(
        passwordCost: 13, passwordChecksInFlight: 1, portalLinkBaseURL: "https://portal.example/password")

    @Test func passwordChecksBeyondTheCapAreBusyAndALockedAccountNeverReachesBcrypt() async throws {
        try await PortalTests.withPortal(settings: Self.slowSingleHasher) { fixture, client in
            let (_, contact, email) = try await PortalTests.registered(client, fixture, secrets: Self.slowSingleHasher.secrets)
            // Two checks at once, one slot: one of them is refused at once.
            async let first = PortalTests.login(client, "nobody-1@portal.example")
            async let second = PortalTests.login(client, "nobody-2@portal.example")
            let statuses = [try await first.status, try await second.status]
            #expect(statuses.contains(.serviceUnavailable), "\(statuses)")
            #expect(statuses.contains(.unauthorized), "\(statuses)")

            // A locked account is refused (401) while the only slot is taken: no bcrypt ran for it.
            try await fixture.pool.execute(
                "UPDATE portal_accounts SET locked_until = now() + interval '15 minutes' WHERE contact_id = $1::uuid", [contact])
            async let occupying = PortalTests.login(client, "nobody-3@portal.example")
            try await Task.sleep(for: .milliseconds(100))
            let locked = try await PortalTests.login(client, email)
            #expect(locked.status == .unauthorized, "\(locked.text)")
            #expect(try locked.json()["type"] as? String == "urn:custodian:problem:invalid-credentials")
            _ = try await occupying
        }
    }

    @Test func wrongCurrentPasswordsLockTheAccountAsWrongLoginsDo() async throws {
        try await PortalTests.withPortal { fixture, client in
            let (session, contact, _) = try await PortalTests.registered(client, fixture)
            for _ in 0..<3 {
                let wrong = try await client.send(
                    .post, "/v1/portal/password", headers: PortalTests.bearer(session, json: true),
                    body: #"{"current_password": "guess guess guess", "new_password": "a brand new password"}"#)
                #expect(wrong.status == .unprocessableContent)
            }
            let account = try await client.send(.get, "/v1/contacts/\(contact)/portal-account", headers: headers(key: fixture.adminKey))
                .json()
            #expect(account["locked_until"] is String, "\(account)")
            // Locked, even the right current password changes nothing.
            let right = try await client.send(
                .post, "/v1/portal/password", headers: PortalTests.bearer(session, json: true),
                body: #"{"current_password": "\#(PortalTests.password)", "new_password": "a brand new password"}"#)
            #expect(right.status == .unprocessableContent)
        }
    }

    @Test func aSuccessfulLoginClearsNoAddressThrottle() async throws {
        try await PortalTests.withPortal { fixture, client in
            let (_, _, email) = try await PortalTests.registered(client, fixture)
            for index in 0..<5 {
                #expect(try await PortalTests.login(client, "nobody\(index)@portal.example").status == .unauthorized)
            }
            // The guesser logs into an account of their own...
            #expect(try await PortalTests.login(client, email).status == .ok)
            // ...and the next guesses from the address wait all the same.
            _ = try await PortalTests.login(client, "nobody5@portal.example")
            #expect(try await PortalTests.login(client, "nobody6@portal.example").status == .tooManyRequests)
        }
    }

    @Test func twoInstancesShareOneCountOfAnAddressesFailedLogins() async throws {
        try await PortalTests.withPortal { fixture, first in
            // A second instance on the same database, with the same keys (as replicas have).
            try await withApp(database: fixture.pool, settings: PortalTests.settings) { second in
                // Five free failures in all, alternating between the instances: not five each.
                for index in 0..<5 {
                    let instance = index.isMultiple(of: 2) ? first : second
                    #expect(try await PortalTests.login(instance, "nobody\(index)@portal.example").status == .unauthorized)
                }
                // The sixth makes the address wait a second, on the other instance too.
                #expect(try await PortalTests.login(first, "nobody5@portal.example").status == .unauthorized)
                let waiting = try await PortalTests.login(second, "nobody6@portal.example")
                #expect(waiting.status == .tooManyRequests, "\(waiting.text)")
                #expect(waiting.headers[.retryAfter] == "1")
                // The address is stored as a keyed hash: its text is nowhere in the table.
                let buckets: [String] = try await fixture.pool.query("SELECT bucket FROM login_failures").map { try $0.decode("bucket") }
                #expect(buckets.count == 1 && buckets.allSatisfy { $0.hasPrefix("portal-login:") && $0.count == 13 + 32 }, "\(buckets)")
            }
        }
    }

    @Test func oneAccountGetsAtMostThreeResetLinksAnHour() async throws {
        try await PortalTests.withPortal { fixture, client in
            _ = try await client.create(
                "/v1/webhooks", key: fixture.adminKey,
                #"{"url": "https://mailer.example/hook", "events": ["contact.password_reset_requested"]}"#)
            let (_, _, email) = try await PortalTests.registered(client, fixture)
            for _ in 0..<5 {
                let response = try await client.send(
                    .post, "/v1/portal/password-reset", headers: headers(key: nil, json: true), body: #"{"email": "\#(email)"}"#)
                #expect(response.status == .accepted)
            }
            #expect(try await PortalTests.count(fixture, "portal_tokens WHERE purpose = 'password_reset'") == 3)
            #expect(try await PortalTests.count(fixture, "webhook_events WHERE type = 'contact.password_reset_requested'") == 3)
        }
    }

    @Test func failedStaffKeysAreThrottledPerAddressBeforeTheDatabaseIsAsked() async throws {
        try await StaffFixture.withApp { fixture, client in
            // Keys of the wrong shape cost no lookup and do not count.
            for _ in 0..<30 {
                #expect(try await client.send(.get, "/v1/leads", headers: headers(key: "not-a-key")).status == .unauthorized)
            }
            var statuses: [HTTPResponse.Status] = []
            for _ in 0..<22 {
                statuses.append(try await client.send(.get, "/v1/leads", headers: headers(key: APIKeySecret.generate().key)).status)
            }
            #expect(statuses.prefix(20).allSatisfy { $0 == .unauthorized }, "\(statuses)")
            #expect(statuses.last == .tooManyRequests)
            // The address waits even with a good key until its time is up.
            let waiting = try await client.send(.get, "/v1/leads", headers: headers(key: fixture.adminKey))
            #expect(waiting.status == .tooManyRequests)
            #expect(waiting.headers[.retryAfter] != nil)
        }
    }
}
