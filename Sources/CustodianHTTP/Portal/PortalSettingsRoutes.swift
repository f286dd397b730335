import CustodianCore
import Foundation
import Hummingbird
import JSONText

/// Staff's side of the customer area: `/v1/settings/portal`, inviting a contact
/// (`POST /v1/contacts/{id}/portal-invitation`), and a contact's account (seen, or closed).
struct PortalSettingsRoutes {
    let settings: PortalSettings
    let accounts: PortalAccounts
    let auth: StaffAuthenticator

    func register(on routes: inout RouteTable) {
        routes.on(.get, "/v1/settings/portal", use: auth.requiring(.readonly, read))
        routes.on(.patch, "/v1/settings/portal", use: auth.requiring(.admin, update))
        routes.on(.post, "/v1/contacts/{id}/portal-invitation", use: auth.requiring(.staff, invite))
        routes.on(.get, "/v1/contacts/{id}/portal-account", use: auth.requiring(.readonly, account))
        routes.on(.delete, "/v1/contacts/{id}/portal-account", use: auth.requiring(.staff, close))
    }

    private static func response(_ values: PortalSettings.Values) -> Response {
        var response = JSONBody.response(
            JSONValue.object([
                "enabled": .bool(values.enabled),
                "registration_enabled": .bool(values.registrationEnabled),
                "registration_requires_terms": .bool(values.requiresTerms),
                "registration_requires_privacy": .bool(values.requiresPrivacy),
                "session_hours": .integer(values.sessionHours),
                "max_failed_logins": .integer(values.maxFailedLogins),
                "lockout_minutes": .integer(values.lockoutMinutes),
                "updated_at": .timestamp(values.updatedAt),
            ]))
        response.headers[.eTag] = ETag.value(values.revision)
        return response
    }

    @Sendable func read(_: Request, _: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        Self.response(try await settings.current())
    }

    @Sendable func update(_ request: Request, _: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        let expected = try ETag.expectedRevision(request)
        var fields = try await RequestFields.read(request)
        var changes = PortalSettings.Changes()
        changes.enabled = fields.change("enabled")
        changes.registrationEnabled = fields.change("registration_enabled")
        changes.requiresTerms = fields.change("registration_requires_terms")
        changes.requiresPrivacy = fields.change("registration_requires_privacy")
        changes.sessionHours = fields.integer("session_hours", range: 1...720)
        changes.maxFailedLogins = fields.integer("max_failed_logins", range: 1...100)
        changes.lockoutMinutes = fields.integer("lockout_minutes", range: 1...1440)
        try fields.finish()
        return Self.response(try await settings.update(changes, expectedRevision: expected, by: actor.member.id))
    }

    /// An account without a password and a one-time link to set one, sent to the mailer
    /// (webhook `contact.portal_invitation`), valid for seven days; a new invitation replaces
    /// the one before.
    @Sendable func invite(_: Request, context: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        let contact = try PersonConsentRoutes.subject(.contact, context)
        let expiresAt = try await accounts.invite(contact.id, by: actor.member.id)
        return JSONBody.response(
            JSONValue.object(["contact_id": .uuid(contact.id), "expires_at": .timestamp(expiresAt)]), status: .accepted)
    }

    @Sendable func account(_: Request, context: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        let contact = try PersonConsentRoutes.subject(.contact, context)
        let account = try await accounts.account(of: contact.id)
        return JSONBody.response(
            JSONValue.object([
                "contact_id": .uuid(account.contactID),
                "has_password": .bool(account.hasPassword),
                "invited_by": .uuid(account.invitedBy),
                "created_at": .timestamp(account.createdAt),
                "password_changed_at": .timestamp(account.passwordChangedAt),
                "last_login_at": .timestamp(account.lastLoginAt),
                "failed_logins": .integer(account.failedLogins),
                "locked_until": .timestamp(account.lockedUntil),
                "active_sessions": .integer(account.activeSessions),
            ]))
    }

    /// The account, its sessions and its links go at once; the contact and their data stay.
    @Sendable func close(_: Request, context: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        try await accounts.close(try PersonConsentRoutes.subject(.contact, context).id)
        return Response(status: .noContent)
    }
}
