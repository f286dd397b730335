import Foundation
import JSONText
import Postgres

/// What every CRM record holds beside its own columns (`RecordTable` adds them to each table):
/// its id, its revision (the ETag), its custom fields and its times.
public struct RecordBasics: Sendable {
    public let id: UUID
    public let revision: Int64
    public let customFields: JSONValue
    public let createdAt: Date
    public let updatedAt: Date

    /// From a row read with a record table's select list.
    public init(from row: Row) throws {
        id = try row.decode("id")
        revision = try row.decode("revision")
        customFields = try row.decode("custom_fields")
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
    }
}
