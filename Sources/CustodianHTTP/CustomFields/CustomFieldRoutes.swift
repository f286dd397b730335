import CustodianCore
import Foundation
import Hummingbird
import JSONText

/// `/v1/custom-fields`: admins define extra fields for leads, customers and contacts.
struct CustomFieldRoutes {
    let definitions: CustomFieldDefinitions
    let auth: StaffAuthenticator

    func register(on routes: inout RouteTable) {
        routes.on(.get, "/v1/custom-fields", use: auth.requiring(.readonly, list))
        routes.on(.post, "/v1/custom-fields", use: auth.creating(.admin, create))
        routes.on(.get, "/v1/custom-fields/{id}", use: auth.requiring(.readonly, read))
        routes.on(.patch, "/v1/custom-fields/{id}", use: auth.requiring(.admin, update))
    }

    static func json(_ definition: CustomFieldDefinitions.Definition) -> JSONValue {
        .object([
            "id": .uuid(definition.id),
            "entity": .string(definition.entity.rawValue),
            "key": .string(definition.key),
            "label": .string(definition.label),
            "type": .string(definition.type.rawValue),
            "options": .array(definition.options.map(JSONValue.string)),
            "required": .bool(definition.required),
            "visible_to_subject": .bool(definition.visibleToSubject),
            "personal": .bool(definition.personal),
            "active": .bool(definition.active),
            "created_at": .timestamp(definition.createdAt),
            "updated_at": .timestamp(definition.updatedAt),
        ])
    }

    private static func response(_ definition: CustomFieldDefinitions.Definition, status: HTTPResponse.Status = .ok) throws -> Response {
        var response = JSONBody.response(json(definition), status: status)
        response.headers[.eTag] = ETag.value(definition.revision)
        return response
    }

    /// Definitions, oldest first; filter by `entity` and `active`.
    @Sendable func list(_ request: Request, _: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        var query = ListQuery(request)
        let limit = query.limit()
        let entity = query.choice("entity", CustomFieldDefinitions.Entity.self)
        let active = query.bool("active")
        let cursor = try query.cursor()
        try query.finish()
        let page = try await definitions.list(entity: entity, active: active, after: cursor, limit: limit)
        return JSONBody.response(page.json(Self.json))
    }

    @Sendable func create(_ request: Request, _: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        var fields = try await RequestFields.read(request)
        let entity = fields.choice("entity", CustomFieldDefinitions.Entity.self, required: true)
        let key = fields.string("key", required: true, maxLength: 63)
        if let value = key.value, value.range(of: "^[a-z][a-z0-9_]*$", options: .regularExpression) == nil {
            fields.fail("key", "must start with a-z and hold only a-z, 0-9 and _")
        }
        let label = fields.string("label", required: true, maxLength: 200)
        let type = fields.choice("type", CustomFieldDefinitions.FieldType.self, required: true)
        let options = fields.stringList("options", maxLength: 200)
        let required = fields.change("required") ?? false
        let visible = fields.change("visible_to_subject") ?? true
        let personal = fields.change("personal") ?? true
        try fields.finish()
        guard let entity = entity.value, let key = key.value, let label = label.value, let type = type.value else {
            throw DomainError.invalid([])
        }
        let definition = try await definitions.create(
            .init(
                entity: entity, key: key, label: label, type: type, options: options ?? [], required: required,
                visibleToSubject: visible, personal: personal),
            by: actor.member.id
        )
        var response = try Self.response(definition, status: .created)
        response.headers[.location] = "/v1/custom-fields/\(definition.id.lowercasedString)"
        return response
    }

    @Sendable func read(_: Request, context: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        try Self.response(try await definitions.find(id: try context.parameters.uuid("id")))
    }

    /// Changes label, options, flags; `active: false` retires the field (its values stay).
    @Sendable func update(_ request: Request, context: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        let id = try context.parameters.uuid("id")
        let expected = try ETag.expectedRevision(request)
        var fields = try await RequestFields.read(request)
        var changes = CustomFieldDefinitions.Changes()
        changes.label = fields.change("label", maxLength: 200)
        changes.options = fields.stringList("options", maxLength: 200)
        changes.required = fields.change("required")
        changes.visibleToSubject = fields.change("visible_to_subject")
        changes.personal = fields.change("personal")
        changes.active = fields.change("active")
        try fields.finish()
        return try Self.response(try await definitions.update(id: id, changes, expectedRevision: expected, by: actor.member.id))
    }
}

extension RequestFields {
    /// A list of non-empty strings, such as a select field's options; nil when absent.
    mutating func stringList(_ field: String, maxLength: Int) -> [String]? {
        guard let value = rawMember(field) else { return nil }
        guard let items = value.array else {
            fail(field, "must be a list of strings")
            return nil
        }
        var strings: [String] = []
        for (index, item) in items.enumerated() {
            guard let text = item.string else {
                fail("\(field)[\(index)]", "must be a string, not \(item.jsonTypeName)")
                continue
            }
            if let problem = Self.problem(withText: text, maxLength: maxLength) {
                fail("\(field)[\(index)]", problem)
                continue
            }
            strings.append(text.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return strings.count == items.count ? strings : nil
    }
}
