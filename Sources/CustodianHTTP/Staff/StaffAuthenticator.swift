import CustodianCore
import Hummingbird
import JSONText

/// Turns `Authorization: Bearer <key>` into the staff member behind it, and guards handlers by role.
///
/// Failed attempts are counted per client address, in this process (`KeyFailureThrottle`): past a
/// few, the address waits (429) before its next key is even looked up, so guessing keys cannot keep
/// the staff pool busy.
struct StaffAuthenticator: Sendable {
    let directory: StaffDirectory
    let idempotency: Idempotency
    let audit: AuditedRequests
    let failures = KeyFailureThrottle(freeFailures: 20)

    typealias AuthenticatedHandler = @Sendable (Request, AppRequestContext, AuthenticatedStaff) async throws -> Response

    /// Wraps `handler` so it runs only for a valid key whose staff member has at least `role`.
    func requiring(_ role: StaffRole, _ handler: @escaping AuthenticatedHandler) -> RouteTable.Handler {
        { request, context in
            let staff = try await authenticate(request, context: context)
            guard staff.member.role.allows(role) else {
                throw ProblemError(
                    .forbidden, detail: "this needs the \(role.rawValue) role or higher; yours is \(staff.member.role.rawValue)")
            }
            var context = context
            context.logger[metadataKey: "staff_id"] = .string(staff.member.id.lowercasedString)
            var actor = AuditedRequests.actor(staff.member.role == .integration ? .integration : .staff, context: context)
            actor.staffID = staff.member.id
            actor.keyID = staff.keyID
            return try await audit.run(as: actor, request, context) { try await handler(request, context, staff) }
        }
    }

    /// For POSTs that create: `requiring`, and an `Idempotency-Key` makes retries safe.
    func creating(_ role: StaffRole, _ handler: @escaping AuthenticatedHandler) -> RouteTable.Handler {
        requiring(role, idempotency.wrap(handler))
    }

    /// For POSTs that create a secret shown once: `requiring`, and an `Idempotency-Key` is refused.
    func creatingSecret(_ role: StaffRole, _ handler: @escaping AuthenticatedHandler) -> RouteTable.Handler {
        requiring(role, idempotency.refuse(handler))
    }

    private static func address(_ context: AppRequestContext) -> String { context.clientIP?.rateLimitKey ?? "unknown" }

    private func authenticate(_ request: Request, context: AppRequestContext) async throws -> AuthenticatedStaff {
        var challenge = HTTPFields()
        challenge[.wwwAuthenticate] = "Bearer"
        guard let header = request.headers[.authorization] else {
            throw ProblemError(.unauthorized, detail: "send Authorization: Bearer <API key>", headers: challenge)
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw ProblemError(.unauthorized, detail: "the Authorization scheme must be Bearer", headers: challenge)
        }
        // Foundation's trimming bridges through NSString: measurable on every request.
        var key = parts[1]
        while key.first == " " || key.first == "\t" { key.removeFirst() }
        while key.last == " " || key.last == "\t" { key.removeLast() }
        // Only a failure that cost a database lookup counts (a key of the wrong shape costs none).
        // The address is formatted only when some address has failed: not on every good request.
        if !failures.isQuiet, let seconds = failures.wait(for: Self.address(context)) {
            throw ProblemError.tooManyRequests("failed authentications", retryAfterSeconds: seconds)
        }
        guard let staff = try await directory.authenticate(key: String(key)) else {
            if key.hasPrefix(APIKeySecret.scheme) { failures.failed(Self.address(context)) }
            throw ProblemError(.unauthorized, detail: "the API key is unknown or revoked", headers: challenge)
        }
        return staff
    }
}
