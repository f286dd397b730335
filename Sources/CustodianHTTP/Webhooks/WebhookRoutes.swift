import CustodianCore
import Foundation
import Hummingbird
import JSONText

/// `/v1/webhooks`: admins register endpoints for events and see every delivery attempt.
struct WebhookRoutes {
    let endpoints: WebhookEndpoints
    let deliveries: WebhookDeliveries
    let auth: StaffAuthenticator
    let destinations: WebhookDestinationPolicy

    func register(on routes: inout RouteTable) {
        routes.on(.get, "/v1/webhooks", use: auth.requiring(.admin, list))
        routes.on(.post, "/v1/webhooks", use: auth.creatingSecret(.admin, create))
        routes.on(.get, "/v1/webhooks/{id}", use: auth.requiring(.admin, read))
        routes.on(.patch, "/v1/webhooks/{id}", use: auth.requiring(.admin, update))
        routes.on(.delete, "/v1/webhooks/{id}", use: auth.requiring(.admin, delete))
        routes.on(.get, "/v1/webhooks/{id}/deliveries", use: auth.requiring(.admin, listDeliveries))
    }

    static func json(_ endpoint: WebhookEndpoints.Endpoint) -> [String: JSONValue] {
        [
            "id": .uuid(endpoint.id),
            "url": .string(endpoint.url),
            "events": .array(endpoint.events.map { .string($0.rawValue) }),
            "description": .string(endpoint.description),
            "active": .bool(endpoint.active),
            "created_at": .timestamp(endpoint.createdAt),
            "updated_at": .timestamp(endpoint.updatedAt),
        ]
    }

    private static func response(_ endpoint: WebhookEndpoints.Endpoint, status: HTTPResponse.Status = .ok) -> Response {
        var response = JSONBody.response(JSONValue.object(json(endpoint)), status: status)
        response.headers[.eTag] = ETag.value(endpoint.revision)
        return response
    }

    @Sendable func list(_ request: Request, _: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        var query = ListQuery(request)
        let limit = query.limit()
        let cursor = try query.cursor()
        try query.finish()
        return JSONBody.response(try await endpoints.list(after: cursor, limit: limit).json { .object(Self.json($0)) })
    }

    /// Registers an endpoint; the answer's `secret` (whsec_…) is the only time it is shown.
    @Sendable func create(_ request: Request, _: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        var fields = try await RequestFields.read(request)
        let url = fields.webhookURL("url", required: true, destinations: destinations)
        let events = fields.choices("events", EventType.self)
        if events == nil { fields.fail("events", "is required") }
        if events?.isEmpty == true { fields.fail("events", "must name at least one event") }
        let description = fields.string("description", required: false, maxLength: 500).value
        try fields.finish()
        guard let url, let events, !events.isEmpty else { throw DomainError.invalid([]) }
        let (endpoint, secret) = try await endpoints.create(url: url, events: events, description: description, by: actor.member.id)
        var body = Self.json(endpoint)
        body["secret"] = .string(secret)
        var response = JSONBody.response(JSONValue.object(body), status: .created)
        response.headers[.location] = "/v1/webhooks/\(endpoint.id.lowercasedString)"
        response.headers[.eTag] = ETag.value(endpoint.revision)
        response.headers[.cacheControl] = "no-store"
        return response
    }

    @Sendable func read(_: Request, context: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        Self.response(try await endpoints.find(id: try context.parameters.uuid("id")))
    }

    @Sendable func update(_ request: Request, context: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        let id = try context.parameters.uuid("id")
        let expected = try ETag.expectedRevision(request)
        var fields = try await RequestFields.read(request)
        var changes = WebhookEndpoints.Changes()
        changes.url = fields.webhookURL("url", required: false, destinations: destinations)
        changes.events = fields.choices("events", EventType.self)
        if changes.events?.isEmpty == true { fields.fail("events", "must name at least one event") }
        changes.description = fields.string("description", required: false, maxLength: 500).nullable
        changes.active = fields.change("active")
        try fields.finish()
        return Self.response(try await endpoints.update(id: id, changes, expectedRevision: expected, by: actor.member.id))
    }

    /// Removes the endpoint and its deliveries still waiting.
    @Sendable func delete(_: Request, context: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        try await endpoints.delete(id: try context.parameters.uuid("id"))
        return Response(status: .noContent)
    }

    /// Every delivery to the endpoint, oldest first, with each attempt.
    @Sendable func listDeliveries(_ request: Request, context: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        let id = try context.parameters.uuid("id")
        var query = ListQuery(request)
        let limit = query.limit()
        let cursor = try query.cursor()
        try query.finish()
        let page = try await deliveries.deliveries(of: id, after: cursor, limit: limit)
        return JSONBody.response(
            page.json { delivery in
                .object([
                    "id": .uuid(delivery.id),
                    "event_id": .uuid(delivery.eventID),
                    "type": .string(delivery.type),
                    "status": .string(delivery.status),
                    "attempts": .array(
                        delivery.tries.map { attempt in
                            .object([
                                "attempted_at": .timestamp(attempt.attemptedAt),
                                "response_status": attempt.responseStatus.map { .integer($0) } ?? .null,
                                "error": .string(attempt.error),
                                "duration_ms": .integer(attempt.durationMilliseconds),
                            ])
                        }),
                    "next_attempt_at": .timestamp(delivery.nextAttemptAt),
                    "delivered_at": .timestamp(delivery.deliveredAt),
                    "created_at": .timestamp(delivery.createdAt),
                ])
            })
    }
}

extension RequestFields {
    /// An http(s) URL: a host (no credentials, which would be stored in clear), an optional port,
    /// path and query, in RFC 3986's characters; the scheme is stored in lower case. The same
    /// pattern as `openapi.yaml`'s.
    mutating func webhookURL(_ field: String, required: Bool, destinations: WebhookDestinationPolicy) -> String? {
        let presence = string(field, required: required, maxLength: 2000)
        if case .null = presence, !required { fail(field, "must not be null: an endpoint always has a URL") }
        guard let text = presence.value else { return nil }
        guard (try? Self.webhookURLPattern.wholeMatch(in: text)) != nil, URL(string: text) != nil else {
            fail(field, "must be an http or https URL with a host, and no user or password; percent-encode other characters")
            return nil
        }
        let schemeLength = text.lowercased().hasPrefix("https") ? 5 : 4
        if let host = URL(string: text)?.host,
            let refusal = destinations.refusal(scheme: String(text.prefix(schemeLength).lowercased()), host: host)
        {
            fail(field, refusal)
            return nil
        }
        return text.prefix(schemeLength).lowercased() + text.dropFirst(schemeLength)
    }

    nonisolated(unsafe) static let webhookURLPattern =
        #/(?i:https?)://([A-Za-z0-9._~!$&'()*+,;=\-]|%[0-9A-Fa-f]{2})+(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?(/([A-Za-z0-9._~!$&'()*+,;=:@\-]|%[0-9A-Fa-f]{2})*)*([?]([A-Za-z0-9._~!$&'()*+,;=:@/?\-]|%[0-9A-Fa-f]{2})*)?/#
}
