import Foundation
import Postgres

/// One writable column of a CRM record, as the API exposes it (JSON name = column name).
public struct ColumnSpec: Sendable {
    public enum Kind: Sendable, Equatable {
        /// One line of text, trimmed, at most this many characters.
        case text(maxLength: Int)
        /// Text that may span lines (descriptions).
        case multilineText(maxLength: Int)
        case email
        /// ISO 3166-1 alpha-2, upper case.
        case countryCode
        case boolean
        /// An RFC 3339 instant.
        case timestamp
        /// The id of a row of another table; an unknown id is a 422 on this field.
        case reference
    }

    public let name: String
    public let kind: Kind
    public let requiredOnCreate: Bool
    public let nullable: Bool

    public init(_ name: String, _ kind: Kind, required: Bool = false, nullable: Bool = true) {
        self.name = name
        self.kind = kind
        self.requiredOnCreate = required
        self.nullable = nullable
    }
}

/// A value for one column, checked by the HTTP layer against its `ColumnSpec`.
public enum ColumnValue: Sendable, Equatable {
    case null
    case text(String)
    case bool(Bool)
    case uuid(UUID)
    case date(Date)

    var binding: any PostgresBindable {
        switch self {
        case .null: String?.none
        case .text(let text): text
        case .bool(let flag): flag
        case .uuid(let id): id
        case .date(let date): date
        }
    }
}

/// The columns a write sets, in the order given.
public typealias ColumnValues = [(column: String, value: ColumnValue)]

/// A record as read: its id, revision (the ETag), the JSON text the API shows, written by the
/// writer of lists and feeds (`RecordTable.writeJSON`), and the row for a typed reading
/// (`Lead(from:)`, `Contact(from:)`, `Customer(from:)`).
public struct StoredRecord: Sendable {
    public let id: UUID
    public let revision: Int64
    public let body: [UInt8]
    public let row: Row
}
