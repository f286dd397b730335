import CustodianCore
import Foundation
import HTTPTypes
import Hummingbird
import JSONText
import NIOCore

/// `/v1/breaches`: personal data breaches (GDPR Art. 33, 34), admins only. A breach's scope
/// (a key, a session or a link, a time window, objects) names its people through the audit
/// trail: `/v1/breaches/{id}/people` as pages, `/v1/breaches/{id}/people.csv` all at once.
struct BreachRoutes {
    let breaches: Breaches
    let auth: StaffAuthenticator

    func register(on routes: inout RouteTable) {
        routes.on(.post, "/v1/breaches", use: auth.creating(.admin, create))
        routes.on(.get, "/v1/breaches", use: auth.requiring(.admin, list))
        routes.on(.get, "/v1/breaches/{id}", use: auth.requiring(.admin, read))
        routes.on(.patch, "/v1/breaches/{id}", use: auth.requiring(.admin, update))
        routes.on(.get, "/v1/breaches/{id}/people", use: auth.requiring(.admin, people))
        routes.on(.get, "/v1/breaches/{id}/people.csv", use: auth.requiring(.admin, peopleCSV))
    }

    static func json(_ breach: Breaches.Breach) -> JSONValue {
        .object([
            "id": .uuid(breach.id),
            "detected_at": .timestamp(breach.detectedAt),
            "description": .string(breach.description),
            "categories": .array(breach.categories.map(JSONValue.string)),
            "status": .string(breach.status.rawValue),
            "authority_deadline_at": .timestamp(breach.authorityDeadlineAt),
            "authority_notified_at": .timestamp(breach.authorityNotifiedAt),
            "people_notified_at": .timestamp(breach.peopleNotifiedAt),
            "scope": .object([
                "key_id": .uuid(breach.scope.keyID),
                "session_id": .uuid(breach.scope.sessionID),
                "link_id": .uuid(breach.scope.linkID),
                "from": .timestamp(breach.scope.from),
                "before": .timestamp(breach.scope.before),
                "objects": breach.scope.objects.map { .array($0.map(JSONValue.string)) } ?? .null,
            ]),
            "created_by": .uuid(breach.createdBy),
            "created_at": .timestamp(breach.createdAt),
            "updated_at": .timestamp(breach.updatedAt),
        ])
    }

    private func response(_ breach: Breaches.Breach, status: HTTPResponse.Status = .ok) -> Response {
        var response = JSONBody.response(Self.json(breach), status: status)
        response.headers[.eTag] = ETag.value(breach.revision)
        return response
    }

    /// The scope members of a body: each may be given, null clears it.
    static func scope(_ fields: inout RequestFields, over current: Breaches.Scope) -> Breaches.Scope? {
        guard let members = fields.rawMember("scope") else { return nil }
        guard let object = members.object, Set(object.keys).isSubset(of: ["key_id", "session_id", "link_id", "from", "before", "objects"])
        else {
            fields.fail("scope", "must be an object with key_id, session_id, link_id, from, before and objects")
            return nil
        }
        var scope = current
        func id(_ name: String) -> UUID?? {
            guard let value = object[name] else { return .none }
            if value == .null { return .some(nil) }
            guard let id = value.string.flatMap(UUID.init(uuidString:)) else {
                fields.fail("scope.\(name)", "must be a UUID or null")
                return .none
            }
            return .some(id)
        }
        func time(_ name: String) -> Date?? {
            guard let value = object[name] else { return .none }
            if value == .null { return .some(nil) }
            guard let date = value.string.flatMap(RFC3339.date(from:)) else {
                fields.fail("scope.\(name)", "must be an RFC 3339 time or null")
                return .none
            }
            return .some(date)
        }
        if let value = id("key_id") { scope.keyID = value }
        if let value = id("session_id") { scope.sessionID = value }
        if let value = id("link_id") { scope.linkID = value }
        if let value = time("from") { scope.from = value }
        if let value = time("before") { scope.before = value }
        if let value = object["objects"] {
            if value == .null {
                scope.objects = nil
            } else if let items = value.array, (1...50).contains(items.count),
                case let names = items.compactMap(\.string), names.count == items.count, names.allSatisfy({ (1...100).contains($0.count) })
            {
                scope.objects = names
            } else {
                fields.fail("scope.objects", "must be a list of 1 to 50 object names (leads, leads/consents...) or null")
            }
        }
        if let from = scope.from, let before = scope.before, from >= before {
            fields.fail("scope.before", "must be after scope.from")
        }
        return scope
    }

    static func categories(_ fields: inout RequestFields, required: Bool) -> [String]? {
        guard let value = fields.rawMember("categories") else {
            if required { fields.fail("categories", "is required") }
            return nil
        }
        guard let items = value.array, items.count <= 20, case let names = items.compactMap(\.string), names.count == items.count,
            names.allSatisfy(Breaches.categories.contains)
        else {
            fields.fail(
                "categories",
                "must be a list of the personal-data map's categories: \(Breaches.categories.sorted().joined(separator: ", "))")
            return nil
        }
        return Array(Set(names)).sorted()
    }

    @Sendable func create(_ request: Request, _: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        var fields = try await RequestFields.read(request)
        let detectedAt = fields.timestamp("detected_at", required: true)
        let description = fields.string("description", required: true, maxLength: 10000)
        let categories = Self.categories(&fields, required: true)
        let scope = Self.scope(&fields, over: Breaches.Scope())
        try fields.finish()
        guard let detectedAt = detectedAt.value, let description = description.value, let categories else { throw DomainError.invalid([]) }
        let breach = try await breaches.create(
            detectedAt: detectedAt, description: description, categories: categories, scope: scope ?? Breaches.Scope(), by: actor.member.id)
        return response(breach, status: .created).located(at: "/v1/breaches/\(breach.id.lowercasedString)")
    }

    @Sendable func list(_ request: Request, _: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        var query = ListQuery(request)
        let limit = query.limit()
        let cursor = try query.cursor()
        try query.finish()
        return JSONBody.response(try await breaches.list(after: cursor, limit: limit).json(Self.json))
    }

    @Sendable func read(_: Request, context: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        response(try await breaches.find(id: try context.parameters.uuid("id")))
    }

    @Sendable func update(_ request: Request, context: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        let id = try context.parameters.uuid("id")
        let expected = try ETag.expectedRevision(request)
        let current = try await breaches.find(id: id)
        var fields = try await RequestFields.read(request)
        var changes = Breaches.Changes()
        changes.description = fields.change("description", maxLength: 10000)
        changes.categories = Self.categories(&fields, required: false)
        changes.status = fields.choice("status", Breaches.Status.self, required: false).value
        switch fields.timestamp("authority_notified_at", required: false) {
        case .absent: break
        case .null: changes.authorityNotifiedAt = .some(nil)
        case .value(let date): changes.authorityNotifiedAt = .some(date)
        }
        switch fields.timestamp("people_notified_at", required: false) {
        case .absent: break
        case .null: changes.peopleNotifiedAt = .some(nil)
        case .value(let date): changes.peopleNotifiedAt = .some(date)
        }
        changes.scope = Self.scope(&fields, over: current.scope)
        try fields.finish()
        return response(try await breaches.update(id: id, changes, expectedRevision: expected ?? current.revision))
    }

    static func json(_ person: Breaches.Reached) -> JSONValue {
        .object([
            "subject_id": .uuid(person.subjectID),
            "subject_type": .string(person.subjectType),
            "first_at": .timestamp(person.firstAt),
            "last_at": .timestamp(person.lastAt),
            "actions": .array(person.actions.map(JSONValue.string)),
        ])
    }

    @Sendable func people(_ request: Request, context: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        let breach = try await breaches.find(id: try context.parameters.uuid("id"))
        var query = ListQuery(request)
        let limit = query.limit()
        let cursor = try query.cursor()
        try query.finish()
        let (people, more) = try await breaches.people(of: breach, after: cursor?.id, limit: limit)
        let next = more ? people.last.map { Cursor(createdAtMicroseconds: 0, id: $0.subjectID).token } : nil
        return JSONBody.response(JSONValue.object(["data": .array(people.map(Self.json)), "next_cursor": .string(next)]))
    }

    /// Every person the scope reached, one line each, for a spreadsheet or a mail merge.
    @Sendable func peopleCSV(_ request: Request, context: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        let breach = try await breaches.find(id: try context.parameters.uuid("id"))
        try ListQuery(request, known: []).finish()
        let (people, _) = try await breaches.people(of: breach, after: nil, limit: nil)
        var sheet = CSVText(header: ["subject_id", "subject_type", "first_at", "last_at", "actions"])
        for person in people {
            sheet.append([
                person.subjectID.lowercasedString, person.subjectType ?? "", RFC3339.string(from: person.firstAt),
                RFC3339.string(from: person.lastAt), person.actions.joined(separator: " "),
            ])
        }
        return sheet.response(filename: "breach-\(breach.id.lowercasedString)-people.csv")
    }
}
