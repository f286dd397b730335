import Foundation
import Postgres

/// Customer-area accounts of contacts: registration, login with lockout, sessions, and the
/// one-time links (password reset, invitation) that go to the mailer through a webhook.
///
/// Session tokens and one-time links are 256 random bits, shown once and stored as SHA-256.
public struct PortalAccounts: Sendable {
    let database: PostgresPool
    let hasher: PasswordHasher
    let secrets: ServerSecrets
    /// One-time links are this, `?token=`, and the token: the page (a frontend's) that asks for
    /// the new password and posts it to `/v1/portal/password-reset/complete`.
    let linkBaseURL: String
    /// Registration confirmation links are this, `?token=`, and the token: the page (a
    /// frontend's) that posts it to `/v1/portal/register/confirm`.
    let registrationLinkBaseURL: String

    public init(
        database: PostgresPool, hasher: PasswordHasher, secrets: ServerSecrets, linkBaseURL: String, registrationLinkBaseURL: String
    ) {
        self.database = database
        self.hasher = hasher
        self.secrets = secrets
        self.linkBaseURL = linkBaseURL
        self.registrationLinkBaseURL = registrationLinkBaseURL
    }

    public enum Refusal: Error, Sendable, Equatable {
        /// The customer area is turned off (or registration is, for a registration).
        case disabled
        /// The contact or their customer is inactive: they may not log in, and are told why.
        case inactive
    }

    /// A new session: the token is shown this once.
    public struct NewSession: Sendable {
        public let token: String
        public let contactID: UUID
        public let expiresAt: Date
        /// Policies whose version in effect the contact has not accepted: until they do, the
        /// session can do nothing but accept them (and log out).
        public let pendingPolicies: [Policies.Kind]
    }

    /// A request's session, resolved.
    public struct Session: Sendable {
        public let id: UUID
        public let contactID: UUID
        public let expiresAt: Date
        public let pendingPolicies: [Policies.Kind]
        public var person: Person { .contact(contactID) }
    }

    public struct Registration: Sendable {
        public var customer: ColumnValues
        public var contact: ColumnValues
        public var password: String
        public var acceptances: [(kind: Policies.Kind, version: Int, language: Policies.Language)]
        public var ip: String?
        public var userAgent: String?

        public init(
            customer: ColumnValues, contact: ColumnValues, password: String,
            acceptances: [(kind: Policies.Kind, version: Int, language: Policies.Language)], ip: String?, userAgent: String?
        ) {
            self.customer = customer
            self.contact = contact
            self.password = password
            self.acceptances = acceptances
            self.ip = ip
            self.userAgent = userAgent
        }
    }

    static let resetLifetime = "1 hour"
    static let invitationLifetime = "7 days"

    /// The policies the settings require whose version in effect `contact` (an SQL expression)
    /// has not accepted, as the lead it was or as the contact. `settings` names portal_settings.
    static func pendingPolicies(contact: String, settings: String) -> String {
        """
        to_jsonb(ARRAY(
            SELECT required.kind
            FROM (VALUES ('terms', \(settings).registration_requires_terms), ('privacy', \(settings).registration_requires_privacy))
                AS required (kind, wanted)
            CROSS JOIN LATERAL (
                SELECT max(version) AS version FROM policy_versions v WHERE v.kind = required.kind AND v.effective_at <= now()
            ) AS in_effect
            WHERE required.wanted AND in_effect.version IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM policy_acceptances pa
                WHERE pa.kind = required.kind AND pa.version = in_effect.version
                  AND (pa.subject_id = \(contact) OR pa.subject_id IN (SELECT id FROM leads WHERE converted_contact_id = \(contact)))
            )
            ORDER BY required.kind DESC
        )) AS pending_policies
        """
    }

    static func policies(_ row: Row) throws -> [Policies.Kind] {
        try row.decodeNames("pending_policies")
    }

    // MARK: Registration and login

    public enum LoginOutcome: Sendable {
        case loggedIn(NewSession)
        /// Wrong password, unknown email and locked account alike: nothing tells them apart.
        case refused
    }

    /// Checks the password (bcrypt runs whether or not the email is known) and opens a session.
    /// Failed attempts count on the account; `max_failed_logins` in a row lock it, each further
    /// lock twice as long as the one before. A correct password for an inactive contact or
    /// customer is refused with the reason (`Refusal.inactive`).
    public func login(email: String, password: String, ip: String?, userAgent: String?) async throws -> LoginOutcome {
        let settings = try await PortalSettings.current(on: database)
        guard settings.enabled else { throw Refusal.disabled }
        let row = try await database.query(
            """
            SELECT a.contact_id, a.password_hash, c.active AND cu.active AS active, coalesce(a.locked_until > now(), false) AS locked
            FROM contacts c JOIN portal_accounts a ON a.contact_id = c.id JOIN customers cu ON cu.id = c.customer_id
            WHERE lower(c.email) = lower($1)
            """,
            [email]
        ).first
        // A locked account is refused before bcrypt runs: guessing on costs the server nothing.
        if try row?.decode("locked", as: Bool.self) == true { return .refused }
        let hash: String? = try row?.decode("password_hash")
        guard try await hasher.verify(password, against: hash), let row else {
            if let row { try await countFailure(of: try row.decode("contact_id"), settings: settings) }
            return .refused
        }
        let contactID: UUID = try row.decode("contact_id")
        return try await database.transaction { transaction in
            let unlocked = try await transaction.query(
                """
                UPDATE portal_accounts SET failed_logins = 0, lockouts = 0, locked_until = NULL, last_login_at = now()
                WHERE contact_id = $1 AND (locked_until IS NULL OR locked_until <= now())
                RETURNING contact_id
                """,
                [contactID])
            guard !unlocked.isEmpty else { return .refused }
            guard try row.decode("active", as: Bool.self) else { throw Refusal.inactive }
            return .loggedIn(
                try await openSession(for: contactID, hours: settings.sessionHours, ip: ip, userAgent: userAgent, on: transaction))
        }
    }

    private func countFailure(of contactID: UUID, settings: PortalSettings.Values) async throws {
        // A locked account's attempts do not count: the lock is not extended by guessing on.
        try await database.execute(
            """
            UPDATE portal_accounts SET
                locked_until = CASE WHEN failed_logins + 1 >= $2
                    THEN now() + make_interval(mins => $3::integer * (1 << least(lockouts, 10))) ELSE locked_until END,
                lockouts = CASE WHEN failed_logins + 1 >= $2 THEN lockouts + 1 ELSE lockouts END,
                failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END
            WHERE contact_id = $1 AND (locked_until IS NULL OR locked_until <= now())
            """,
            [contactID, settings.maxFailedLogins, settings.lockoutMinutes])
    }

    func openSession(for contactID: UUID, hours: Int, ip: String?, userAgent: String?, on session: PostgresSession) async throws
        -> NewSession
    {
        let token = Secret.randomToken()
        let row = try await session.query(
            """
            WITH opened AS (
                INSERT INTO portal_sessions (contact_id, token_hash, expires_at, ip, user_agent)
                VALUES ($1, $2, now() + make_interval(hours => $3::integer), $4, $5)
                RETURNING contact_id, expires_at
            )
            SELECT opened.expires_at, \(Self.pendingPolicies(contact: "opened.contact_id", settings: "ps"))
            FROM opened CROSS JOIN portal_settings ps
            """,
            [contactID, Secret.hash(token), hours, ip, userAgent.map { String($0.prefix(1000)) }]
        ).single()
        return NewSession(
            token: token, contactID: contactID, expiresAt: try row.decode("expires_at"), pendingPolicies: try Self.policies(row))
    }

    // MARK: Sessions

    /// The live session `token` opens, or nil. Throws `Refusal` when the area was turned off or
    /// the contact or customer made inactive since the login.
    public func session(token: String) async throws -> Session? {
        guard Secret.couldBeToken(token) else { return nil }
        guard
            let row = try await database.query(
                """
                SELECT s.id, s.contact_id, s.expires_at, ps.enabled, c.active AND cu.active AS active,
                       \(Self.pendingPolicies(contact: "s.contact_id", settings: "ps"))
                FROM portal_sessions s JOIN contacts c ON c.id = s.contact_id JOIN customers cu ON cu.id = c.customer_id
                CROSS JOIN portal_settings ps
                WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now()
                """,
                [Secret.hash(token)]
            ).first
        else { return nil }
        guard try row.decode("enabled", as: Bool.self) else { throw Refusal.disabled }
        guard try row.decode("active", as: Bool.self) else { throw Refusal.inactive }
        return Session(
            id: try row.decode("id"), contactID: try row.decode("contact_id"), expiresAt: try row.decode("expires_at"),
            pendingPolicies: try Self.policies(row))
    }

    public func logout(_ session: Session) async throws {
        try await database.execute("UPDATE portal_sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", [session.id])
    }

    /// Changes the password when `current` is right, ends every session of the contact (this one
    /// too) and opens a new one. Nil: `current` was wrong.
    public func changePassword(_ session: Session, current: String, new: String, ip: String?, userAgent: String?) async throws
        -> NewSession?
    {
        guard try await isCurrentPassword(current, of: session) else { return nil }
        let settings = try await PortalSettings.current(on: database)
        let newHash = try await hasher.hash(new)
        return try await database.transaction { transaction in
            try await setPassword(newHash, of: session.contactID, on: transaction)
            return try await openSession(
                for: session.contactID, hours: settings.sessionHours, ip: ip, userAgent: userAgent, on: transaction)
        }
    }

    /// Whether `password` is the session's contact's password. A stolen session guesses it no
    /// faster than a login does: a wrong one counts toward the account's lock, and a locked
    /// account answers no without bcrypt.
    public func isCurrentPassword(_ password: String, of session: Session) async throws -> Bool {
        let row = try await database.query(
            "SELECT password_hash, coalesce(locked_until > now(), false) AS locked FROM portal_accounts WHERE contact_id = $1",
            [session.contactID]
        ).first
        guard let row, try !row.decode("locked", as: Bool.self) else { return false }
        guard try await hasher.verify(password, against: try row.decode("password_hash")) else {
            try await countFailure(of: session.contactID, settings: try await PortalSettings.current(on: database))
            return false
        }
        return true
    }

    /// The new password, no lock, and every session and unused link of the contact ended.
    private func setPassword(_ hash: String, of contactID: UUID, on transaction: PostgresSession) async throws {
        try await transaction.execute(
            """
            UPDATE portal_accounts SET password_hash = $2, password_changed_at = now(), failed_logins = 0, lockouts = 0, locked_until = NULL
            WHERE contact_id = $1
            """,
            [contactID, hash])
        try await transaction.execute(
            "UPDATE portal_sessions SET revoked_at = now() WHERE contact_id = $1 AND revoked_at IS NULL", [contactID])
        try await transaction.execute("UPDATE portal_tokens SET used_at = now() WHERE contact_id = $1 AND used_at IS NULL", [contactID])
    }

    // MARK: One-time links

    /// Sends a reset link to the mailer when `email` is an active contact's with an account;
    /// otherwise does nothing. The caller answers the same either way.
    public func requestReset(email: String) async throws {
        try await database.transaction { transaction in
            let row = try await transaction.query(
                """
                SELECT a.contact_id FROM contacts c JOIN portal_accounts a ON a.contact_id = c.id
                JOIN customers cu ON cu.id = c.customer_id, portal_settings ps
                WHERE lower(c.email) = lower($1) AND c.active AND cu.active AND ps.enabled
                  AND lower(a.confirmed_email) = lower(c.email)
                  AND (SELECT count(*) FROM portal_tokens t
                       WHERE t.contact_id = a.contact_id AND t.purpose = 'password_reset' AND t.created_at > now() - interval '1 hour')
                      < $2
                """,
                [email, Self.resetsPerHour]
            ).first
            guard let row else { return }
            try await issueLink(.passwordReset, to: try row.decode("contact_id"), lifetime: Self.resetLifetime, on: transaction)
        }
    }

    /// Reset links one account gets in an hour: more would flood the person's inbox at anyone's asking.
    static let resetsPerHour = 3

    public enum LinkPurpose: String, Sendable {
        case passwordReset = "password_reset"
        case invitation
    }

    /// A staff member invites a contact: an account without a password and a link to set one,
    /// sent to the mailer. Returns when the link expires.
    public func invite(_ contactID: UUID, by actor: UUID) async throws -> Date {
        try await database.transaction { transaction in
            let row = try await transaction.query(
                """
                SELECT c.active AND cu.active AS active, ps.enabled, a.password_hash IS NOT NULL AS has_password
                FROM contacts c JOIN customers cu ON cu.id = c.customer_id CROSS JOIN portal_settings ps
                LEFT JOIN portal_accounts a ON a.contact_id = c.id
                WHERE c.id = $1 FOR UPDATE OF c
                """,
                [contactID]
            ).first
            guard let row else { throw DomainError.notFound(resource: "contact") }
            guard try row.decode("enabled", as: Bool.self) else {
                throw DomainError.conflict("the customer area is not enabled (/v1/settings/portal)")
            }
            guard try row.decode("active", as: Bool.self) else {
                throw DomainError.conflict("the contact or their customer is inactive: inactive contacts cannot log in")
            }
            if try row.decode("has_password", as: Bool?.self) == true {
                throw DomainError.conflict("the contact has an account already; they can reset their password")
            }
            try await transaction.execute(
                "INSERT INTO portal_accounts (contact_id, invited_by) VALUES ($1, $2) ON CONFLICT (contact_id) DO NOTHING",
                [contactID, actor])
            return try await issueLink(.invitation, to: contactID, lifetime: Self.invitationLifetime, on: transaction)
        }
    }

    @discardableResult
    private func issueLink(_ purpose: LinkPurpose, to contactID: UUID, lifetime: String, on transaction: PostgresSession) async throws
        -> Date
    {
        let token = Secret.randomToken()
        // A new link replaces the ones before it.
        try await transaction.execute(
            "UPDATE portal_tokens SET used_at = now() WHERE contact_id = $1 AND purpose = $2 AND used_at IS NULL",
            [contactID, purpose.rawValue])
        let expiresAt: Date = try await transaction.query(
            """
            INSERT INTO portal_tokens (token_hash, contact_id, purpose, expires_at) VALUES ($1, $2, $3, now() + $4::interval)
            RETURNING expires_at
            """,
            [Secret.hash(token), contactID, purpose.rawValue, lifetime]
        ).single().decode("expires_at")
        try await Outbox.emit(
            purpose == .invitation ? .portalInvitation : .passwordResetRequested,
            data: ["contact_id": .uuid(contactID), "expires_at": .timestamp(expiresAt)],
            sealing: ["token": .string(token), "link": .string("\(linkBaseURL)?token=\(token)")], with: secrets,
            subjectID: contactID, on: transaction)
        return expiresAt
    }

    /// Sets the password through a one-time link (reset or invitation); the link is used up and
    /// every session of the contact ends. False: no such link, or used, or expired.
    public func completeLink(token: String, password: String) async throws -> Bool {
        guard Secret.couldBeToken(token) else { return false }
        // bcrypt is the expensive part: a token that is no link costs one indexed read, no hash.
        let live = try await database.query(
            "SELECT 1 FROM portal_tokens WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()", [Secret.hash(token)])
        guard !live.isEmpty else { return false }
        let hash = try await hasher.hash(password)
        return try await database.transaction { transaction in
            let row = try await transaction.query(
                """
                UPDATE portal_tokens SET used_at = now()
                WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
                RETURNING contact_id, purpose
                """,
                [Secret.hash(token)]
            ).first
            guard let row else { return false }
            let contactID: UUID = try row.decode("contact_id")
            try await setPassword(hash, of: contactID, on: transaction)
            if try row.decode("purpose", as: LinkPurpose.self) == .invitation {
                // The invitation was mailed to the contact's address: using it shows they read it.
                try await transaction.execute(
                    "UPDATE portal_accounts a SET confirmed_email = c.email FROM contacts c WHERE c.id = a.contact_id AND a.contact_id = $1",
                    [contactID])
            }
            return true
        }
    }

    // MARK: Staff's view

    /// An account as staff see it: never a hash, never a token.
    public struct Account: Sendable {
        public let contactID: UUID
        public let hasPassword: Bool
        public let invitedBy: UUID?
        public let createdAt: Date
        public let passwordChangedAt: Date?
        public let lastLoginAt: Date?
        public let failedLogins: Int
        public let lockedUntil: Date?
        public let activeSessions: Int
    }

    public func account(of contactID: UUID) async throws -> Account {
        guard
            let row = try await database.query(
                """
                SELECT a.contact_id, a.password_hash IS NOT NULL AS has_password, a.invited_by, a.created_at, a.password_changed_at,
                       a.last_login_at, a.failed_logins, CASE WHEN a.locked_until > now() THEN a.locked_until END AS locked_until,
                       (SELECT count(*) FROM portal_sessions s
                        WHERE s.contact_id = a.contact_id AND s.revoked_at IS NULL AND s.expires_at > now())::int AS active_sessions
                FROM portal_accounts a WHERE a.contact_id = $1
                """,
                [contactID]
            ).first
        else { throw DomainError.notFound(resource: "portal account") }
        return Account(
            contactID: try row.decode("contact_id"), hasPassword: try row.decode("has_password"), invitedBy: try row.decode("invited_by"),
            createdAt: try row.decode("created_at"), passwordChangedAt: try row.decode("password_changed_at"),
            lastLoginAt: try row.decode("last_login_at"), failedLogins: try row.decode("failed_logins"),
            lockedUntil: try row.decode("locked_until"), activeSessions: try row.decode("active_sessions"))
    }

    /// Staff close an account: it, its sessions and its links are gone; the contact stays.
    public func close(_ contactID: UUID) async throws {
        if try await database.execute("DELETE FROM portal_accounts WHERE contact_id = $1", [contactID]) == 0 {
            throw DomainError.notFound(resource: "portal account")
        }
    }

    /// Removes sessions and links a day past their end; returns how many.
    @Sendable public func purgeExpired() async throws -> Int {
        let sessions = try await database.execute(
            "DELETE FROM portal_sessions WHERE expires_at < now() - interval '1 day' OR revoked_at < now() - interval '1 day'")
        let links = try await database.execute(
            "DELETE FROM portal_tokens WHERE expires_at < now() - interval '1 day' OR used_at < now() - interval '1 day'")
        return sessions + links
    }
}
