import Foundation
import Postgres

/// Admin-defined extra fields per kind of record, and the validation of their values.
public struct CustomFieldDefinitions: Sendable {
    public enum Entity: String, Sendable, CaseIterable {
        case lead, customer, contact
    }

    public enum FieldType: String, Sendable, CaseIterable {
        case text, textarea, number, date, select, multiselect, checkbox
    }

    public struct Definition: Sendable {
        public let id: UUID
        public let entity: Entity
        public let key: String
        public let label: String
        public let type: FieldType
        public let options: [String]
        public let required: Bool
        public let visibleToSubject: Bool
        public let personal: Bool
        public let active: Bool
        public let revision: Int64
        public let createdAt: Date
        public let updatedAt: Date
    }

    let database: PostgresPool

    public init(database: PostgresPool) { self.database = database }

    static let columns = """
        id, entity, key, label, type, options, required, visible_to_subject, personal, active, revision,
        created_at, updated_at, (extract(epoch FROM created_at) * 1000000)::bigint AS created_at_us
        """

    static func definition(from row: Row) throws -> Definition {
        Definition(
            id: try row.decode("id"),
            entity: try row.decode("entity", as: Entity.self),
            key: try row.decode("key"),
            label: try row.decode("label"),
            type: try row.decode("type", as: FieldType.self),
            options: try row.decode("options", as: JSONB<[String]>.self).value,
            required: try row.decode("required"),
            visibleToSubject: try row.decode("visible_to_subject"),
            personal: try row.decode("personal"),
            active: try row.decode("active"),
            revision: try row.decode("revision"),
            createdAt: try row.decode("created_at"),
            updatedAt: try row.decode("updated_at")
        )
    }

    public struct NewDefinition: Sendable {
        public var entity: Entity
        public var key: String
        public var label: String
        public var type: FieldType
        public var options: [String]
        public var required: Bool
        public var visibleToSubject: Bool
        public var personal: Bool

        public init(
            entity: Entity, key: String, label: String, type: FieldType, options: [String], required: Bool, visibleToSubject: Bool,
            personal: Bool
        ) {
            self.entity = entity
            self.key = key
            self.label = label
            self.type = type
            self.options = options
            self.required = required
            self.visibleToSubject = visibleToSubject
            self.personal = personal
        }
    }

    public func create(_ new: NewDefinition, by actor: UUID) async throws -> Definition {
        try Self.checkOptions(new.options, for: new.type)
        do {
            let row = try await database.query(
                """
                INSERT INTO custom_field_definitions
                    (entity, key, label, type, options, required, visible_to_subject, personal, created_by, updated_by)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
                RETURNING \(Self.columns)
                """,
                [
                    new.entity.rawValue, new.key, new.label, new.type.rawValue, JSONB(new.options), new.required,
                    new.visibleToSubject, new.personal, actor,
                ]
            ).single()
            return try Self.definition(from: row)
        } catch let error as PostgresError where error.kind == .uniqueViolation {
            throw DomainError.duplicate(field: "key")
        }
    }

    static func checkOptions(_ options: [String], for type: FieldType) throws {
        let choices = type == .select || type == .multiselect
        if choices && options.isEmpty {
            throw DomainError.invalid([FieldError(field: "options", message: "a \(type.rawValue) field needs at least one option")])
        }
        if !choices && !options.isEmpty {
            throw DomainError.invalid([FieldError(field: "options", message: "only select and multiselect fields have options")])
        }
        if Set(options).count != options.count {
            throw DomainError.invalid([FieldError(field: "options", message: "must not repeat an option")])
        }
    }

    public func find(id: UUID) async throws -> Definition {
        let rows = try await database.query("SELECT \(Self.columns) FROM custom_field_definitions WHERE id = $1", [id])
        guard let row = rows.first else { throw DomainError.notFound(resource: "custom field") }
        return try Self.definition(from: row)
    }

    public func list(entity: Entity?, active: Bool?, after cursor: Cursor?, limit: Int) async throws -> Page<Definition> {
        let rows = try await database.query(
            """
            SELECT \(Self.columns) FROM custom_field_definitions
            WHERE \(Cursor.afterParameters1And2)
              AND ($3::text IS NULL OR entity = $3)
              AND ($4::boolean IS NULL OR active = $4)
            ORDER BY created_at, id
            LIMIT $5
            """,
            [cursor?.createdAtMicroseconds, cursor?.id, entity?.rawValue, active, limit + 1]
        )
        return try Page.keyset(rows, limit: limit, Self.definition(from:))
    }

    /// The active definitions for one kind of record, by key: what its writes are checked against.
    public func active(for entity: Entity) async throws -> [String: Definition] {
        let rows = try await database.query(
            "SELECT \(Self.columns) FROM custom_field_definitions WHERE entity = $1 AND active", [entity.rawValue]
        )
        var byKey: [String: Definition] = [:]
        for row in rows {
            let definition = try Self.definition(from: row)
            byKey[definition.key] = definition
        }
        return byKey
    }

    public struct Changes: Sendable {
        public var label: String?
        public var options: [String]?
        public var required: Bool?
        public var visibleToSubject: Bool?
        public var personal: Bool?
        public var active: Bool?

        public init() {}
    }

    /// Key, type and entity stay fixed once values may exist; the rest may change.
    public func update(id: UUID, _ changes: Changes, expectedRevision: Int64?, by actor: UUID) async throws -> Definition {
        try await database.transaction { transaction in
            let current = try Self.definition(
                from: try await transaction.lockRow(
                    "custom_field_definitions", id: id, selecting: Self.columns, resource: "custom field",
                    expectedRevision: expectedRevision))
            if let options = changes.options { try Self.checkOptions(options, for: current.type) }
            let updated = try await transaction.query(
                """
                UPDATE custom_field_definitions SET
                    label = coalesce($2, label),
                    options = coalesce($3, options),
                    required = coalesce($4, required),
                    visible_to_subject = coalesce($5, visible_to_subject),
                    personal = coalesce($6, personal),
                    active = coalesce($7, active),
                    updated_by = $8
                WHERE id = $1
                RETURNING \(Self.columns)
                """,
                [
                    id, changes.label, changes.options.map(JSONB.init), changes.required, changes.visibleToSubject,
                    changes.personal, changes.active, actor,
                ]
            ).single()
            return try Self.definition(from: updated)
        }
    }
}
