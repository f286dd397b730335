import Foundation
import Postgres

/// Which sections each audience's export leaves out (the export's header names them, so nothing
/// is dropped silently), and how long an export attached to a closed request case is kept.
public struct ExportSettings: Sendable {
    public struct Values: Sendable {
        public var staffLeftOut: [String]
        public var personLeftOut: [String]
        public var attachmentDays: Int
        public var revision: Int64
        public var updatedAt: Date
    }

    let database: PostgresPool

    public init(database: PostgresPool) { self.database = database }

    static let columns =
        "to_jsonb(staff_left_out) AS staff_left_out, to_jsonb(person_left_out) AS person_left_out, attachment_days, revision, updated_at"

    static func values(from row: Row) throws -> Values {
        Values(
            staffLeftOut: try row.decode("staff_left_out", as: JSONB<[String]>.self).value,
            personLeftOut: try row.decode("person_left_out", as: JSONB<[String]>.self).value,
            attachmentDays: try row.decode("attachment_days"), revision: try row.decode("revision"), updatedAt: try row.decode("updated_at")
        )
    }

    static let settings = SettingsTable(table: "export_settings", columns: columns, values: values(from:))

    static func current(on session: some Queryable) async throws -> Values { try await settings.current(on: session) }

    public func current(on session: some Queryable) async throws -> Values { try await Self.current(on: session) }

    public func current() async throws -> Values { try await current(on: database) }

    /// Section names must be ones an export can hold now (`sections`).
    public func update(
        staffLeftOut: [String]?, personLeftOut: [String]?, attachmentDays: Int?, expectedRevision: Int64?, sections: [String],
        by actor: UUID
    ) async throws -> Values {
        var problems: [FieldError] = []
        for (field, names) in [("staff_left_out", staffLeftOut), ("person_left_out", personLeftOut)] {
            for name in names ?? [] where !sections.contains(name) {
                problems.append(
                    FieldError(field: field, message: "\(name) is not a section; sections are \(sections.joined(separator: ", "))"))
            }
        }
        if let days = attachmentDays, !(1...3650).contains(days) {
            problems.append(FieldError(field: "attachment_days", message: "must be from 1 to 3650"))
        }
        if !problems.isEmpty { throw DomainError.invalid(problems) }
        return try await database.transaction { transaction in
            let current = try await Self.settings.lock(expectedRevision: expectedRevision, in: transaction)
            let row = try await transaction.query(
                """
                UPDATE export_settings SET staff_left_out = ARRAY(SELECT DISTINCT jsonb_array_elements_text($1)),
                    person_left_out = ARRAY(SELECT DISTINCT jsonb_array_elements_text($2)), attachment_days = $3, updated_by = $4
                RETURNING \(Self.columns)
                """,
                [
                    JSONB(staffLeftOut ?? current.staffLeftOut), JSONB(personLeftOut ?? current.personLeftOut),
                    attachmentDays ?? current.attachmentDays, actor,
                ]
            ).single()
            return try Self.values(from: row)
        }
    }
}
