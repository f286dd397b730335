import CustodianCore
import CustodianHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSONText
import Postgres
import TestSupport
import Testing

@Suite("The customer area: registration, login, lockout, sessions, resets, invitations, scoping")
struct PortalTests {
    /// bcrypt at its lowest cost: the tests check the rules, not the hash's strength.
    static let settings = ServerSettings(passwordCost: 4, portalLinkBaseURL: "https://portal.example/password")
    static let password = "correct horse battery"

    static func withPortal(
        settings: ServerSettings = settings, registration: Bool = true,
        _ body: @Sendable @escaping (StaffFixture, ContractClient) async throws -> Void
    ) async throws {
        try await StaffFixture.withApp(settings: settings) { fixture, client in
            let enabled = try await client.send(
                .patch, "/v1/settings/portal", headers: headers(key: fixture.adminKey, json: true),
                body: #"{"enabled": true, "registration_enabled": \#(registration), "max_failed_logins": 3}"#)
            #expect(enabled.status == .ok, "\(enabled.text)")
            try await body(fixture, client)
        }
    }

    static func bearer(_ token: String, json: Bool = false) -> HTTPFields { headers(key: token, json: json) }

    static func publishTerms(_ client: ContractClient, key: String) async throws -> Int {
        let published = try await PolicyTests.publish(
            client, key: key, "terms", #"{"texts": [{"language": "en", "title": "Terms", "body": "Be nice."}]}"#)
        return try #require(published.first?["version"] as? Int)
    }

    static func register(
        _ client: ContractClient, email: String, accept: String = "[]", sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> TestResponse {
        try await client.send(
            .post, "/v1/portal/register", headers: headers(key: nil, json: true),
            body: #"""
                {"company": "Quill & Co", "first_name": "Zelda", "last_name": "Quill", "email": "\#(email)",
                 "password": "\#(password)", "accept": \#(accept)}
                """#, sourceLocation: sourceLocation)
    }

    static func login(_ client: ContractClient, _ email: String, _ password: String = password) async throws -> TestResponse {
        try await client.send(
            .post, "/v1/portal/login", headers: headers(key: nil, json: true), body: #"{"email": "\#(email)", "password": "\#(password)"}"#)
    }

    /// What the newest event of `type` holds for the mailer, its sealed members opened.
    static func mailed(_ fixture: StaffFixture, type: String, secrets: ServerSecrets = settings.secrets) async throws -> [String: JSONValue]
    {
        let payload: JSONValue = try await fixture.pool.query(
            "SELECT payload FROM webhook_events WHERE type = $1 ORDER BY created_at DESC, id LIMIT 1", [type]
        ).single().decode("payload")
        return try #require(try Outbox.opened(payload, with: secrets).object)
    }

    /// A registered contact's session token and contact id: registered, and confirmed through the
    /// link mailed to the address.
    static func registered(_ client: ContractClient, _ fixture: StaffFixture, secrets: ServerSecrets = settings.secrets) async throws
        -> (token: String, contact: String, email: String)
    {
        let version = try await publishTerms(client, key: fixture.adminKey)
        let email = "zq\(SeededPerson.marker())@portal.example"
        let response = try await register(client, email: email, accept: #"[{"kind": "terms", "version": \#(version), "language": "en"}]"#)
        #expect(response.status == .accepted, "\(response.text)")
        let mail = try await mailed(fixture, type: "portal.registration_confirmation_requested", secrets: secrets)
        #expect(mail["email"]?.string == email)
        let confirmed = try await client.send(
            .post, "/v1/portal/register/confirm", headers: headers(key: nil, json: true),
            body: #"{"token": "\#(try #require(mail["token"]?.string))"}"#)
        #expect(confirmed.status == .created, "\(confirmed.text)")
        let body = try confirmed.json()
        return (try #require(body["token"] as? String), try #require(body["contact_id"] as? String), email)
    }

    /// A problem answer without its request id: what tells two answers apart, if anything.
    static func answer(_ response: TestResponse) throws -> String {
        var body = try response.json()
        body["request_id"] = nil
        return "\(response.status.code) " + body.keys.sorted().map { "\($0)=\(body[$0] ?? "")" }.joined(separator: ",")
    }

    static func count(_ fixture: StaffFixture, _ table: String) async throws -> Int {
        try await fixture.pool.query("SELECT count(*)::int AS n FROM \(table)").single().decode("n")
    }

    @Test func registrationNeedsTheAreaOpenAndTheTermsInEffectAcceptedAndStoresNothingWithout() async throws {
        try await StaffFixture.withApp(settings: Self.settings) { fixture, client in
            let closed = try await Self.register(client, email: "closed@portal.example")
            #expect(closed.status == .notFound)
            #expect(try closed.json()["type"] as? String == "urn:custodian:problem:portal-disabled")
        }
        try await Self.withPortal { fixture, client in
            let version = try await Self.publishTerms(client, key: fixture.adminKey)
            let before = try await (
                Self.count(fixture, "customers"), Self.count(fixture, "contacts"), Self.count(fixture, "portal_accounts")
            )
            let refused = try await Self.register(client, email: "zq-none@portal.example")
            #expect(refused.status == .unprocessableContent)
            #expect(refused.text.contains("\"field\":\"accept\""))
            let old = try await Self.register(
                client, email: "zq-old@portal.example", accept: #"[{"kind": "terms", "version": \#(version + 1), "language": "en"}]"#)
            #expect(old.status == .unprocessableContent)
            let weak = try await client.send(
                .post, "/v1/portal/register", headers: headers(key: nil, json: true),
                body: #"{"company": "C", "first_name": "Z", "last_name": "Q", "email": "weak@portal.example", "password": "short"}"#)
            #expect(weak.status == .unprocessableContent)
            #expect(weak.text.contains("\"field\":\"password\""))
            let after = try await (
                Self.count(fixture, "customers"), Self.count(fixture, "contacts"), Self.count(fixture, "portal_accounts")
            )
            #expect(after == before)
            #expect(try await Self.count(fixture, "policy_acceptances") == 0)

            let (token, contact, email) = try await Self.registered(client, fixture)
            let read = try await client.send(.get, "/v1/contacts/\(contact)", headers: headers(key: fixture.adminKey)).json()
            #expect(read["is_primary"] as? Bool == true)
            #expect(read["email"] as? String == email)
            let acceptances =
                try await client.send(
                    .get, "/v1/contacts/\(contact)/policy-acceptances", headers: headers(key: fixture.adminKey)
                ).json()["data"] as? [[String: Any]]
            #expect(acceptances?.map { $0["context"] as? String } == ["registration"])
            let me = try await client.send(.get, "/v1/portal/me", headers: Self.bearer(token))
            #expect(me.status == .ok, "\(me.text)")
            #expect(me.headers[.cacheControl] == "no-store")
            // The same email again: the same answer as for a new one; the person is told by mail.
            let version2 = try await Self.publishTerms(client, key: fixture.adminKey)
            let again = try await Self.register(
                client, email: email.uppercased(), accept: #"[{"kind": "terms", "version": \#(version2), "language": "en"}]"#)
            #expect(again.status == .accepted, "\(again.text)")
            let notice = try await Self.mailed(fixture, type: "contact.registration_attempted")
            #expect(notice["contact_id"]?.string == contact)
            #expect(notice["token"] == nil)
        }
    }

    @Test func aWrongPasswordAnUnknownEmailAndALockedAccountGetOneAnswer() async throws {
        try await Self.withPortal { fixture, client in
            let (_, contact, email) = try await Self.registered(client, fixture)
            let wrong = try await Self.login(client, email, "not the password at all")
            let unknown = try await Self.login(client, "nobody-\(SeededPerson.marker())@portal.example")
            #expect(wrong.status == .unauthorized)
            #expect(try wrong.json()["type"] as? String == "urn:custodian:problem:invalid-credentials")
            #expect(try Self.answer(wrong) == Self.answer(unknown))
            // max_failed_logins is 3: the third wrong one locks the account.
            _ = try await Self.login(client, email, "not the password at all")
            _ = try await Self.login(client, email, "not the password at all")
            let locked = try await Self.login(client, email)
            #expect(locked.status == .unauthorized)
            #expect(try Self.answer(locked) == Self.answer(wrong))
            let seen = try await client.send(.get, "/v1/contacts/\(contact)/portal-account", headers: headers(key: fixture.adminKey)).json()
            #expect(seen["locked_until"] is String && seen["failed_logins"] as? Int == 0 && seen["active_sessions"] as? Int == 1)
            #expect(!seen.keys.contains { $0.contains("hash") })
            let lock = try await fixture.pool.query(
                "SELECT lockouts, locked_until > now() + interval '14 minutes' AS long FROM portal_accounts WHERE contact_id = $1",
                [UUID(uuidString: contact)]
            ).single()
            #expect(try lock.decode("lockouts", as: Int.self) == 1)
            #expect(try lock.decode("long", as: Bool.self))
            // The lock over, the right password works and clears the count.
            try await fixture.database.withPool(role: .owner) { owner in
                _ = try await owner.execute(
                    "UPDATE portal_accounts SET locked_until = now() - interval '1 second' WHERE contact_id = $1",
                    [UUID(uuidString: contact)])
            }
            let back = try await Self.login(client, email)
            #expect(back.status == .ok, "\(back.text)")
            #expect(try back.json()["pending_policies"] as? [String] == [])
        }
    }

    @Test func anAddressThatKeepsFailingWaitsLongerAndLonger() async throws {
        try await Self.withPortal { _, client in
            var statuses: [HTTPResponse.Status] = []
            for index in 0..<7 {
                statuses.append(try await Self.login(client, "nobody\(index)@portal.example").status)
            }
            #expect(statuses.prefix(5).allSatisfy { $0 == .unauthorized })
            #expect(statuses.last == .tooManyRequests)
        }
    }

    @Test func logoutAndPasswordChangesEndSessions() async throws {
        try await Self.withPortal { fixture, client in
            let (first, _, email) = try await Self.registered(client, fixture)
            let second = try #require(try await Self.login(client, email).json()["token"] as? String)
            #expect(try await client.send(.post, "/v1/portal/logout", headers: Self.bearer(second)).status == .noContent)
            let ended = try await client.send(.get, "/v1/portal/session", headers: Self.bearer(second))
            #expect(ended.status == .unauthorized)
            #expect(try ended.json()["type"] as? String == "urn:custodian:problem:session-required")
            #expect(try await client.send(.get, "/v1/portal/session", headers: Self.bearer(first)).status == .ok)

            let third = try #require(try await Self.login(client, email).json()["token"] as? String)
            let wrong = try await client.send(
                .post, "/v1/portal/password", headers: Self.bearer(first, json: true),
                body: #"{"current_password": "guess guess guess", "new_password": "a brand new password"}"#)
            #expect(wrong.status == .unprocessableContent)
            #expect(wrong.text.contains("current_password"))
            let changed = try await client.send(
                .post, "/v1/portal/password", headers: Self.bearer(first, json: true),
                body: #"{"current_password": "\#(Self.password)", "new_password": "a brand new password"}"#)
            #expect(changed.status == .ok, "\(changed.text)")
            let renewed = try #require(try changed.json()["token"] as? String)
            for old in [first, third] {
                #expect(try await client.send(.get, "/v1/portal/me", headers: Self.bearer(old)).status == .unauthorized)
            }
            #expect(try await client.send(.get, "/v1/portal/me", headers: Self.bearer(renewed)).status == .ok)
            #expect(try await Self.login(client, email).status == .unauthorized)
            #expect(try await Self.login(client, email, "a brand new password").status == .ok)
            // Staff close the account: every session ends at once, and nobody logs in.
            let contact = try #require(
                try await client.send(.get, "/v1/portal/session", headers: Self.bearer(renewed)).json()["contact_id"] as? String)
            #expect(
                try await client.send(.delete, "/v1/contacts/\(contact)/portal-account", headers: headers(key: fixture.adminKey)).status
                    == .noContent)
            #expect(try await client.send(.get, "/v1/portal/me", headers: Self.bearer(renewed)).status == .unauthorized)
            #expect(try await Self.login(client, email, "a brand new password").status == .unauthorized)
            #expect(
                try await client.send(.get, "/v1/contacts/\(contact)/portal-account", headers: headers(key: fixture.adminKey)).status
                    == .notFound)
        }
    }

    /// The one-time link as the mailer receives it.
    static func deliveredLink(_ fixture: StaffFixture, type: String) async throws -> [String: JSONValue] {
        let due = try await WebhookDeliveries(database: fixture.pool, secrets: settings.secrets).claim(limit: 50, lease: .seconds(60))
        let message = try #require(due.last { $0.type == type })
        return try #require(message.data.object)
    }

    @Test func aResetLinkGoesToTheMailerOnlyForAnAccountAndWorksOnce() async throws {
        try await Self.withPortal { fixture, client in
            _ = try await client.create(
                "/v1/webhooks", key: fixture.adminKey,
                #"{"url": "https://mailer.example/hook", "events": ["contact.password_reset_requested", "contact.portal_invitation"]}"#)
            let (session, contact, email) = try await Self.registered(client, fixture)
            for asked in ["nobody@portal.example", email] {
                let response = try await client.send(
                    .post, "/v1/portal/password-reset", headers: headers(key: nil, json: true), body: #"{"email": "\#(asked)"}"#)
                #expect(response.status == .accepted)
            }
            #expect(try await Self.count(fixture, "webhook_events WHERE type = 'contact.password_reset_requested'") == 1)
            // At rest the link is sealed: the database alone holds no usable link.
            let stored: String = try await fixture.pool.query(
                "SELECT payload::text AS p FROM webhook_events WHERE type = 'contact.password_reset_requested'"
            ).single().decode("p")
            let message = try await Self.deliveredLink(fixture, type: "contact.password_reset_requested")
            let token = try #require(message["token"]?.string)
            #expect(message["contact_id"]?.string == contact)
            #expect(message["link"]?.string == "https://portal.example/password?token=\(token)")
            #expect(!stored.contains(token))
            #expect(
                try await fixture.pool.query("SELECT 1 FROM portal_tokens WHERE token_hash = sha256(convert_to($1, 'UTF8'))", [token]).count
                    == 1)

            let body = #"{"token": "\#(token)", "password": "reset to this one"}"#
            let done = try await client.send(
                .post, "/v1/portal/password-reset/complete", headers: headers(key: nil, json: true), body: body)
            #expect(done.status == .noContent)
            let again = try await client.send(
                .post, "/v1/portal/password-reset/complete", headers: headers(key: nil, json: true), body: body)
            #expect(again.status == .unprocessableContent)
            #expect(again.text.contains("\"field\":\"token\""))
            #expect(try await client.send(.get, "/v1/portal/me", headers: Self.bearer(session)).status == .unauthorized)
            #expect(try await Self.login(client, email, "reset to this one").status == .ok)
        }
    }

    @Test func anInvitedContactSetsAPasswordAndMustAcceptThePoliciesFirst() async throws {
        try await Self.withPortal(registration: false) { fixture, client in
            let staff = try await fixture.key(role: .staff)
            _ = try await client.create(
                "/v1/webhooks", key: fixture.adminKey, #"{"url": "https://mailer.example/hook", "events": ["contact.portal_invitation"]}"#)
            let version = try await Self.publishTerms(client, key: fixture.adminKey)
            let customer = try #require(
                try await client.create("/v1/customers", key: staff, #"{"company": "Invited Ltd"}"#)["id"] as? String)
            let email = "inv\(SeededPerson.marker())@portal.example"
            let contact = try #require(
                try await client.create(
                    "/v1/contacts", key: staff,
                    #"{"customer_id": "\#(customer)", "first_name": "Ina", "last_name": "Vited", "email": "\#(email)"}"#)["id"] as? String)
            let invited = try await client.send(.post, "/v1/contacts/\(contact)/portal-invitation", headers: headers(key: staff))
            #expect(invited.status == .accepted, "\(invited.text)")
            // No password yet: a login fails like any other.
            #expect(try await Self.login(client, email).status == .unauthorized)
            let token = try #require(try await Self.deliveredLink(fixture, type: "contact.portal_invitation")["token"]?.string)
            #expect(
                try await client.send(
                    .post, "/v1/portal/password-reset/complete", headers: headers(key: nil, json: true),
                    body: #"{"token": "\#(token)", "password": "\#(Self.password)"}"#
                ).status == .noContent)
            let login = try await Self.login(client, email)
            #expect(login.status == .ok)
            #expect(try login.json()["pending_policies"] as? [String] == ["terms"], "privacy is required too, but none is published")
            let session = try #require(try login.json()["token"] as? String)
            let blocked = try await client.send(.get, "/v1/portal/me", headers: Self.bearer(session))
            #expect(blocked.status == .forbidden)
            #expect(try blocked.json()["type"] as? String == "urn:custodian:problem:acceptance-required")
            let accepted = try await client.send(
                .post, "/v1/portal/me/policy-acceptances", headers: Self.bearer(session, json: true),
                body: #"{"kind": "terms", "version": \#(version), "language": "en"}"#)
            #expect(accepted.status == .created)
            #expect(try accepted.json()["context"] as? String == "customer_area")
            #expect(try await client.send(.get, "/v1/portal/me", headers: Self.bearer(session)).status == .ok)
            // An account with a password is not invited again; registration is closed.
            #expect(
                try await client.send(.post, "/v1/contacts/\(contact)/portal-invitation", headers: headers(key: staff)).status == .conflict)
            #expect(try await Self.register(client, email: "closed@portal.example").status == .notFound)
        }
    }

    @Test func aNewVersionOfThePolicyIsAcceptedAgainBeforeAnythingElse() async throws {
        try await Self.withPortal { fixture, client in
            let (session, _, email) = try await Self.registered(client, fixture)
            #expect(try await client.send(.get, "/v1/portal/me/consents", headers: Self.bearer(session)).status == .ok)
            let version = try await Self.publishTerms(client, key: fixture.adminKey)
            let login = try await Self.login(client, email)
            #expect(try login.json()["pending_policies"] as? [String] == ["terms"])
            for (method, path) in [
                (HTTPRequest.Method.get, "/v1/portal/me"), (.get, "/v1/portal/me/consents"), (.get, "/v1/portal/me/requests"),
                (.get, "/v1/portal/me/export"),
            ] {
                let response = try await client.send(method, path, headers: Self.bearer(session))
                #expect(response.status == .forbidden, "\(path)")
            }
            let state = try await client.send(.get, "/v1/portal/session", headers: Self.bearer(session)).json()
            #expect(state["pending_policies"] as? [String] == ["terms"])
            #expect(
                try await client.send(
                    .post, "/v1/portal/me/policy-acceptances", headers: Self.bearer(session, json: true),
                    body: #"{"kind": "terms", "version": \#(version), "language": "en"}"#
                ).status == .created)
            #expect(try await client.send(.get, "/v1/portal/me", headers: Self.bearer(session)).status == .ok)
        }
    }

    @Test func aSessionReachesItsOwnContactOnlyWhateverTheRequestCarries() async throws {
        try await Self.withPortal { fixture, client in
            let person = try await client.seedPerson(key: fixture.adminKey)
            let (session, contact, email) = try await Self.registered(client, fixture)
            let me = try await client.send(.get, "/v1/portal/me", headers: Self.bearer(session))
            #expect(me.text.contains(email))
            #expect(!me.text.contains(person.email) && !me.text.contains(person.contact))
            // Ids in the body or the query are refused, never followed.
            for body in [#"{"id": "\#(person.contact)"}"#, #"{"customer_id": "\#(person.customer)"}"#, #"{"email": "\#(person.email)"}"#] {
                let response = try await client.send(.patch, "/v1/portal/me", headers: Self.bearer(session, json: true), body: body)
                #expect(response.status != .ok, "\(body)")
            }
            #expect(
                try await client.send(.get, "/v1/portal/me?id=\(person.contact)", headers: Self.bearer(session)).status
                    == .unprocessableContent)
            let export = try await client.send(.get, "/v1/portal/me/export", headers: Self.bearer(session))
            #expect(export.status == .ok)
            #expect(export.text.contains(contact) && !export.text.contains(person.contact) && !export.text.contains(person.email))
            #expect(!export.text.contains("password_hash") && !export.text.contains("token_hash"))
            let filed = try await client.send(
                .post, "/v1/portal/me/requests", headers: Self.bearer(session, json: true), body: #"{"kind": "access"}"#)
            #expect(filed.status == .created, "\(filed.text)")
            let cases = try await client.send(.get, "/v1/requests?subject_id=\(contact)", headers: headers(key: fixture.adminKey)).json()
            let opened = try #require((cases["data"] as? [[String: Any]])?.first)
            #expect(opened["channel"] as? String == "customer_area")
            #expect(opened["verification_method"] as? String == "customer_area")
            // A session token is not an API key, and an API key is not a session.
            #expect(try await client.send(.get, "/v1/contacts/\(contact)", headers: Self.bearer(session)).status == .unauthorized)
            #expect(try await client.send(.get, "/v1/portal/me", headers: headers(key: fixture.adminKey)).status == .unauthorized)
            // The person's correction goes through and is recorded as theirs.
            let patched = try await client.send(
                .patch, "/v1/portal/me", headers: Self.bearer(session, json: true), body: #"{"last_name": "Quillon"}"#)
            #expect(patched.status == .ok, "\(patched.text)")
            let neighbour = try await client.send(.get, "/v1/contacts/\(person.contact)", headers: headers(key: fixture.adminKey)).json()
            #expect(neighbour["last_name"] as? String != "Quillon")
        }
    }

    @Test func anInactiveCustomersContactsCannotLogInAndAreToldWhy() async throws {
        try await Self.withPortal { fixture, client in
            let (session, contact, email) = try await Self.registered(client, fixture)
            let customer = try #require(
                try await client.send(.get, "/v1/contacts/\(contact)", headers: headers(key: fixture.adminKey)).json()["customer_id"]
                    as? String)
            let deactivated = try await client.send(
                .patch, "/v1/customers/\(customer)", headers: headers(key: fixture.adminKey, json: true), body: #"{"active": false}"#)
            #expect(deactivated.status == .ok)
            let login = try await Self.login(client, email)
            #expect(login.status == .forbidden)
            #expect(try login.json()["type"] as? String == "urn:custodian:problem:account-inactive")
            // A wrong password still gets the one answer: inactivity is told only to the password's holder.
            #expect(try await Self.login(client, email, "not the password at all").status == .unauthorized)
            #expect(try await client.send(.get, "/v1/portal/me", headers: Self.bearer(session)).status == .forbidden)
        }
    }

    @Test func anErasureLeavesNoAccountSessionOrLink() async throws {
        try await Self.withPortal { fixture, client in
            let (_, contact, email) = try await Self.registered(client, fixture)
            _ = try await client.send(
                .post, "/v1/portal/password-reset", headers: headers(key: nil, json: true), body: #"{"email": "\#(email)"}"#)
            let id = try #require(UUID(uuidString: contact))
            for table in ["portal_accounts", "portal_sessions", "portal_tokens"] {
                #expect(try await fixture.pool.query("SELECT 1 FROM \(table) WHERE contact_id = $1", [id]).count == 1, "\(table)")
            }
            let erasure = try await client.openErasure(subjectType: "contact", subjectID: contact, key: fixture.adminKey)
            try await client.startErasure(erasure, key: fixture.adminKey)
            let erased = try await client.send(.post, "/v1/requests/\(erasure)/erase", headers: headers(key: fixture.adminKey))
            #expect(erased.status == .ok, "\(erased.text)")
            for table in ["portal_accounts", "portal_sessions", "portal_tokens"] {
                #expect(try await fixture.pool.query("SELECT 1 FROM \(table) WHERE contact_id = $1", [id]).isEmpty, "\(table)")
            }
            #expect(try await Self.login(client, email).status == .unauthorized)
        }
    }
}
