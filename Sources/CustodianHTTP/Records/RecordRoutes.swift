import CustodianCore
import Foundation
import Hummingbird
import JSONText

/// The endpoints every CRM record type shares: list, create, read, update, delete under one path.
/// What differs between types (the rules behind a write) comes in as the operations.
struct RecordRoutes {
    struct Operations: Sendable {
        let find: @Sendable (UUID) async throws -> StoredRecord
        let list: @Sendable (RecordTable.Filter, Cursor?, Int) async throws -> ListDocument
        let create: @Sendable (ColumnValues, JSONValue, UUID) async throws -> StoredRecord
        let update: @Sendable (UUID, ColumnValues, JSONValue?, Int64?, UUID) async throws -> StoredRecord
        let delete: @Sendable (UUID, Int64?) async throws -> Void
    }

    /// `/v1/customers`
    let path: String
    let table: RecordTable
    /// Columns a list may be filtered by, with `?column=value`.
    let filterColumns: [String]
    let operations: Operations
    let auth: StaffAuthenticator
    /// Which custom field definitions this record type's writes are checked against.
    let customFieldEntity: CustomFieldDefinitions.Entity
    let definitions: CustomFieldDefinitions

    func register(on routes: inout RouteTable) {
        routes.on(.get, path, use: auth.requiring(.readonly, list))
        routes.on(.post, path, use: auth.creating(.staff, create))
        routes.on(.get, path + "/{id}", use: auth.requiring(.readonly, read))
        routes.on(.patch, path + "/{id}", use: auth.requiring(.staff, update))
        routes.on(.delete, path + "/{id}", use: auth.requiring(.staff, delete))
    }

    private func response(_ record: StoredRecord, status: HTTPResponse.Status = .ok) throws -> Response {
        var response = JSONBody.response(record.body, status: status)
        response.headers[.eTag] = ETag.value(record.revision)
        return response
    }

    @Sendable func list(_ request: Request, _: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        var query = ListQuery(request)
        let limit = query.limit()
        var filter = RecordTable.Filter()
        // People whose processing is restricted (GDPR Art. 18) are left out; an admin may ask.
        if query.bool("include_restricted") == true {
            guard actor.member.role.allows(.admin) else {
                throw ProblemError(.forbidden, detail: "only an admin may list people whose processing is restricted")
            }
            filter.includeRestricted = true
        }
        for column in filterColumns {
            guard let spec = table.columns.first(where: { $0.name == column }) else { continue }
            switch spec.kind {
            case .boolean: if let flag = query.bool(column) { filter.equals.append((column, .bool(flag))) }
            case .reference: if let id = query.uuid(column) { filter.equals.append((column, .uuid(id))) }
            default: if let text = query.text(column) { filter.equals.append((column, .text(text))) }
            }
        }
        filter.search = query.text("q")
        filter.createdFrom = query.timestamp("created_from")
        filter.createdBefore = query.timestamp("created_before")
        let cursor = try query.cursor()
        try query.finish()
        return JSONBody.response(try await operations.list(filter, cursor, limit).bytes)
    }

    @Sendable func create(_ request: Request, _: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        var fields = try await RequestFields.read(request)
        let values = fields.columnValues(table.columns, creating: true)
        let active = try await definitions.active(for: customFieldEntity)
        let customFields = fields.customFields(definitions: active, creating: true) ?? .object([:])
        try fields.finish()
        let record = try await operations.create(values, customFields, actor.member.id)
        var response = try response(record, status: .created)
        response.headers[.location] = "\(path)/\(record.id.lowercasedString)"
        return response
    }

    @Sendable func read(_: Request, context: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        try response(try await operations.find(try context.parameters.uuid("id")))
    }

    @Sendable func update(_ request: Request, context: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        let id = try context.parameters.uuid("id")
        let expected = try ETag.expectedRevision(request)
        var fields = try await RequestFields.read(request)
        let values = fields.columnValues(table.columns, creating: false)
        let active = try await definitions.active(for: customFieldEntity)
        let customFields = fields.customFields(definitions: active, creating: false)
        try fields.finish()
        return try response(try await operations.update(id, values, customFields, expected, actor.member.id))
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        try await operations.delete(try context.parameters.uuid("id"), try ETag.expectedRevision(request))
        return Response(status: .noContent)
    }
}

extension RecordRoutes.Operations {
    /// The plain record operations of a store.
    init(_ store: RecordStore) {
        self.init(
            find: store.find(id:),
            list: store.list(_:after:limit:),
            create: store.create(_:customFields:by:),
            update: store.update(id:_:customFields:expectedRevision:by:),
            delete: store.delete(id:expectedRevision:)
        )
    }
}

extension RecordRoutes.Operations {
    /// The same operations, refusing writes that enter an erased person's email again (409).
    func screening(_ table: RecordTable, with suppressions: Suppressions) -> Self {
        let create = self.create
        let update = self.update
        return Self(
            find: find,
            list: list,
            create: { values, customFields, actor in
                try await suppressions.refuse(values, of: table)
                return try await create(values, customFields, actor)
            },
            update: { id, values, customFields, revision, actor in
                try await suppressions.refuse(values, of: table)
                return try await update(id, values, customFields, revision, actor)
            },
            delete: delete
        )
    }
}

extension RecordRoutes {
    static func customers(_ store: RecordStore, auth: StaffAuthenticator, definitions: CustomFieldDefinitions) -> RecordRoutes {
        RecordRoutes(
            path: "/v1/customers",
            table: store.table,
            filterColumns: ["active"],
            operations: .init(store),
            auth: auth,
            customFieldEntity: .customer,
            definitions: definitions
        )
    }

    static func contacts(
        _ contacts: Contacts, auth: StaffAuthenticator, definitions: CustomFieldDefinitions, suppressions: Suppressions
    ) -> RecordRoutes {
        RecordRoutes(
            path: "/v1/contacts",
            table: Contacts.table,
            filterColumns: ["customer_id", "active", "is_primary"],
            operations: .init(
                find: contacts.store.find(id:),
                list: contacts.store.list(_:after:limit:),
                create: contacts.create(_:customFields:by:),
                update: contacts.update(id:_:customFields:expectedRevision:by:),
                delete: contacts.delete(id:expectedRevision:)
            ).screening(Contacts.table, with: suppressions),
            auth: auth,
            customFieldEntity: .contact,
            definitions: definitions
        )
    }
}
