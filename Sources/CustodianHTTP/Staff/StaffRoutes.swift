import CustodianCore
import Foundation
import Hummingbird
import JSONText

/// `/v1/staff` and `/v1/api-keys`: who may use the API, and with which keys.
struct StaffRoutes {
    let directory: StaffDirectory
    let auth: StaffAuthenticator

    func register(on routes: inout RouteTable) {
        routes.on(.get, "/v1/staff", use: auth.requiring(.readonly, listStaff))
        routes.on(.post, "/v1/staff", use: auth.creating(.admin, createStaff))
        routes.on(.get, "/v1/staff/{id}", use: auth.requiring(.readonly, getStaff))
        routes.on(.patch, "/v1/staff/{id}", use: auth.requiring(.admin, updateStaff))
        routes.on(.get, "/v1/api-keys", use: auth.requiring(.admin, listKeys))
        routes.on(.post, "/v1/api-keys", use: auth.creatingSecret(.admin, createKey))
        routes.on(.get, "/v1/api-keys/{id}", use: auth.requiring(.admin, getKey))
        routes.on(.delete, "/v1/api-keys/{id}", use: auth.requiring(.admin, revokeKey))
    }

    static func json(_ member: StaffMember) -> JSONValue {
        .object([
            "id": .uuid(member.id),
            "name": .string(member.name),
            "email": .string(member.email),
            "role": .string(member.role.rawValue),
            "active": .bool(member.active),
            "created_at": .timestamp(member.createdAt),
            "updated_at": .timestamp(member.updatedAt),
        ])
    }

    static func json(_ key: APIKeyRecord) -> JSONValue {
        .object([
            "id": .uuid(key.id),
            "staff_id": .uuid(key.staffID),
            "name": .string(key.name),
            "prefix": .string(key.prefix),
            "created_at": .timestamp(key.createdAt),
            "last_used_at": .timestamp(key.lastUsedAt),
            "revoked_at": .timestamp(key.revokedAt),
        ])
    }

    private static func response(_ member: StaffMember, status: HTTPResponse.Status = .ok) throws -> Response {
        var response = JSONBody.response(json(member), status: status)
        response.headers[.eTag] = ETag.value(member.revision)
        return response
    }

    /// Lists staff members, oldest first; filter by `role` and `active`.
    @Sendable func listStaff(_ request: Request, _: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        var query = ListQuery(request)
        let limit = query.limit()
        let role = query.choice("role", StaffRole.self)
        let active = query.bool("active")
        let cursor = try query.cursor()
        try query.finish()
        let page = try await directory.members(after: cursor, limit: limit, role: role, active: active)
        return JSONBody.response(page.json(Self.json))
    }

    /// Adds a staff member (who then needs an API key to act).
    @Sendable func createStaff(_ request: Request, _: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        var fields = try await RequestFields.read(request)
        let name = fields.string("name", required: true, maxLength: 200)
        let email = fields.email("email", required: false)
        let role = fields.choice("role", StaffRole.self, required: true)
        try fields.finish()
        guard let name = name.value, let role = role.value else { throw DomainError.invalid([]) }
        let member = try await directory.create(.init(name: name, email: email.value, role: role), by: actor.member.id)
        var response = try Self.response(member, status: .created)
        response.headers[.location] = "/v1/staff/\(member.id.lowercasedString)"
        return response
    }

    @Sendable func getStaff(_ request: Request, context: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        try Self.response(try await directory.member(id: try context.parameters.uuid("id")))
    }

    /// Changes the fields sent; `If-Match` guards against overwriting a newer revision.
    @Sendable func updateStaff(_ request: Request, context: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        let id = try context.parameters.uuid("id")
        let expected = try ETag.expectedRevision(request)
        var fields = try await RequestFields.read(request)
        var changes = StaffDirectory.StaffChanges()
        changes.name = fields.change("name", maxLength: 200)
        switch fields.email("email", required: false) {
        case .absent: break
        case .null: changes.email = .some(nil)
        case .value(let email): changes.email = .some(email)
        }
        changes.role = fields.choice("role", StaffRole.self, required: false).value
        changes.active = fields.change("active")
        try fields.finish()
        return try Self.response(try await directory.update(id: id, changes, expectedRevision: expected, by: actor.member.id))
    }

    /// Lists API keys (never their secrets); filter by `staff_id`.
    @Sendable func listKeys(_ request: Request, _: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        var query = ListQuery(request)
        let limit = query.limit()
        let staffID = query.uuid("staff_id")
        let cursor = try query.cursor()
        try query.finish()
        let page = try await directory.keys(after: cursor, limit: limit, staffID: staffID)
        return JSONBody.response(page.json(Self.json))
    }

    /// One API key (never its secret).
    @Sendable func getKey(_: Request, context: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        JSONBody.response(Self.json(try await directory.key(id: try context.parameters.uuid("id"))))
    }

    /// Issues a key for a staff member; the answer's `key` is the only time the secret is shown.
    @Sendable func createKey(_ request: Request, _: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        var fields = try await RequestFields.read(request)
        let staffID = fields.uuid("staff_id", required: true)
        let name = fields.string("name", required: true, maxLength: 200)
        try fields.finish()
        guard let staffID = staffID.value, let name = name.value else { throw DomainError.invalid([]) }
        let (record, secret) = try await directory.issueKey(staffID: staffID, name: name, by: actor.member.id)
        guard case .object(var body) = Self.json(record) else { throw DomainError.invalid([]) }
        body["key"] = .string(secret.key)
        var response = JSONBody.response(JSONValue.object(body), status: .created).located(at: "/v1/api-keys/\(record.id.lowercasedString)")
        response.headers[.cacheControl] = "no-store"
        return response
    }

    /// Revokes a key at once; it can never be used again.
    @Sendable func revokeKey(_ request: Request, context: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        try await directory.revokeKey(id: try context.parameters.uuid("id"), by: actor.member.id)
        return Response(status: .noContent)
    }
}

extension Parameters {
    /// A path parameter that must be a UUID; anything else is a 404 (no such record can exist).
    func uuid(_ name: String) throws -> UUID {
        guard let text = self.get(name), let id = UUID(uuidString: text) else {
            throw ProblemError(.notFound, detail: "no record has this id")
        }
        return id
    }
}
