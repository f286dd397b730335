import CustodianCore
import Foundation
import Hummingbird
import JSONText

/// `/v1/portal/…` without a session: registration, login, and the password reset. With one:
/// the session itself, logout and the password change. (The contact's own data: PortalMeRoutes.)
struct PortalRoutes {
    let accounts: PortalAccounts
    let auth: PortalAuthenticator
    let gate: PublicGate
    let failures: LoginFailures

    /// What registration asks of the contact, and of the company (`company`).
    static let contactColumns = Contacts.table.columns.filter { ["first_name", "last_name", "email", "phone", "title"].contains($0.name) }
    static let customerColumns = Customers.table.columns.filter { ["company", "vat_number", "country"].contains($0.name) }

    func register(on routes: inout RouteTable) {
        // Counted per address in PostgreSQL too, so that several instances share one limit.
        let counted = { (handler: @escaping RouteTable.Handler) in
            gate.guarding(scope: "portal-login", tokenLooksValid: { _ in true }, handler)
        }
        routes.on(.post, "/v1/portal/register", use: counted(registerAccount))
        routes.on(.post, "/v1/portal/register/confirm", use: counted(confirmRegistration))
        routes.on(.post, "/v1/portal/login", use: counted(login))
        routes.on(.post, "/v1/portal/password-reset", use: counted(requestReset))
        routes.on(.post, "/v1/portal/password-reset/complete", use: counted(completeReset))
        routes.on(.get, "/v1/portal/session", use: auth.requiring(whilePending: true, showSession))
        routes.on(.post, "/v1/portal/logout", use: auth.requiring(whilePending: true, logout))
        routes.on(.post, "/v1/portal/password", use: auth.requiring(changePassword))
    }

    static func json(_ session: PortalAccounts.NewSession) -> JSONValue {
        .object([
            "token": .string(session.token),
            "contact_id": .uuid(session.contactID),
            "expires_at": .timestamp(session.expiresAt),
            "pending_policies": .array(session.pendingPolicies.map { .string($0.rawValue) }),
        ])
    }

    private static func sessionResponse(_ session: PortalAccounts.NewSession, status: HTTPResponse.Status = .ok) -> Response {
        var response = JSONBody.response(json(session), status: status)
        response.headers[.cacheControl] = "no-store"
        return response
    }

    private static func password(_ fields: inout RequestFields, _ name: String) -> String? {
        guard let password = fields.password(name) else { return nil }
        if let problem = PasswordHasher.problems(with: password) {
            fields.fail(name, problem)
            return nil
        }
        return password
    }

    /// Always 202 once the registration is valid: a confirmation link goes to the address (or,
    /// when a contact has it already, a notice to that person). Nothing is created until the
    /// link is used (`confirmRegistration`).
    @Sendable func registerAccount(_ request: Request, context: AppRequestContext) async throws -> Response {
        var fields = try await RequestFields.read(request)
        let contact = fields.columnValues(Self.contactColumns, creating: true)
        let customer = fields.columnValues(Self.customerColumns, creating: true)
        let password = Self.password(&fields, "password")
        let acceptances = fields.acceptances("accept")
        try fields.finish()
        guard let password else { throw DomainError.invalid([]) }
        try await PortalAuthenticator.refusals {
            try await accounts.register(
                .init(
                    customer: customer, contact: contact, password: password, acceptances: acceptances,
                    ip: context.clientIP?.description, userAgent: request.userAgentForRecords))
        }
        return Response(status: .accepted)
    }

    /// The link mailed to a registration's address, used: the customer, its primary contact, the
    /// account and the acceptances are created, and the contact is logged in.
    @Sendable func confirmRegistration(_ request: Request, context _: AppRequestContext) async throws -> Response {
        var fields = try await RequestFields.read(request)
        let token = fields.string("token", required: true, maxLength: ConfirmationToken.maxLength).value
        try fields.finish()
        guard let token, let session = try await PortalAuthenticator.refusals({ try await accounts.confirmRegistration(token: token) })
        else {
            throw DomainError.invalid([FieldError(field: "token", message: "is not a valid link: unknown, used or expired")])
        }
        return Self.sessionResponse(session, status: .created).located(at: "/v1/portal/session")
    }

    /// One answer (401 `invalid-credentials`) for an unknown email, a wrong password and a locked
    /// account; an address that keeps failing waits longer and longer (429).
    @Sendable func login(_ request: Request, context: AppRequestContext) async throws -> Response {
        let address = context.clientIP?.rateLimitKey ?? "unknown"
        if let seconds = try await failures.wait(for: address) {
            throw ProblemError.tooManyRequests("failed logins", retryAfterSeconds: seconds)
        }
        var fields = try await RequestFields.read(request)
        let email = fields.email("email", required: true).value
        let password = fields.password("password")
        try fields.finish()
        guard let email, let password else { throw DomainError.invalid([]) }
        let outcome = try await PortalAuthenticator.refusals {
            try await accounts.login(
                email: email, password: password, ip: context.clientIP?.description, userAgent: request.userAgentForRecords)
        }
        switch outcome {
        case .loggedIn(let session):
            return Self.sessionResponse(session)
        case .refused:
            try await failures.failed(address)
            throw ProblemError(.invalidCredentials, detail: "the email or the password is wrong, or the account is locked for a while")
        }
    }

    /// Always 202: whether the email has an account is not told. When it has, the mailer gets a
    /// one-time link (webhook `contact.password_reset_requested`), valid for an hour.
    @Sendable func requestReset(_ request: Request, context _: AppRequestContext) async throws -> Response {
        var fields = try await RequestFields.read(request)
        let email = fields.email("email", required: true).value
        try fields.finish()
        guard let email else { throw DomainError.invalid([]) }
        try await accounts.requestReset(email: email)
        return Response(status: .accepted)
    }

    /// Sets the password through a reset or invitation link; every session of the contact ends.
    @Sendable func completeReset(_ request: Request, context _: AppRequestContext) async throws -> Response {
        var fields = try await RequestFields.read(request)
        let token = fields.string("token", required: true, maxLength: 100).value
        let password = Self.password(&fields, "password")
        try fields.finish()
        guard let token, let password else { throw DomainError.invalid([]) }
        guard try await accounts.completeLink(token: token, password: password) else {
            throw DomainError.invalid([FieldError(field: "token", message: "is not a valid link: unknown, used or expired")])
        }
        return Response(status: .noContent)
    }

    @Sendable func showSession(_: Request, context _: AppRequestContext, session: PortalAccounts.Session) async throws -> Response {
        var response = JSONBody.response(
            JSONValue.object([
                "contact_id": .uuid(session.contactID),
                "expires_at": .timestamp(session.expiresAt),
                "pending_policies": .array(session.pendingPolicies.map { .string($0.rawValue) }),
            ]))
        response.headers[.cacheControl] = "no-store"
        return response
    }

    @Sendable func logout(_: Request, context _: AppRequestContext, session: PortalAccounts.Session) async throws -> Response {
        try await accounts.logout(session)
        return Response(status: .noContent)
    }

    /// Every session ends (this one too); the answer carries a new one.
    @Sendable func changePassword(_ request: Request, context: AppRequestContext, session: PortalAccounts.Session) async throws
        -> Response
    {
        var fields = try await RequestFields.read(request)
        let current = fields.password("current_password")
        let new = Self.password(&fields, "new_password")
        try fields.finish()
        guard let current, let new else { throw DomainError.invalid([]) }
        guard
            let renewed = try await accounts.changePassword(
                session, current: current, new: new, ip: context.clientIP?.description, userAgent: request.userAgentForRecords)
        else {
            throw DomainError.invalid([FieldError(field: "current_password", message: "is not your password")])
        }
        return Self.sessionResponse(renewed)
    }
}

extension RequestFields {
    /// A password as typed: not trimmed (spaces are part of it), 1 to 200 characters, no NUL.
    mutating func password(_ field: String) -> String? {
        guard let value = rawMember(field) else {
            fail(field, "is required")
            return nil
        }
        guard case .string(let text) = value else {
            fail(field, "must be a string, not \(value.jsonTypeName)")
            return nil
        }
        guard (1...200).contains(text.unicodeScalars.count), !text.unicodeScalars.contains("\0") else {
            fail(field, "must be 1 to 200 characters, without NUL")
            return nil
        }
        return text
    }
}
