import Foundation
import JSONText
import Postgres

/// The position after the last row of a page, for keyset pagination over `(created_at, id)`.
///
/// Opaque to clients (base64url). It holds the creation time in whole microseconds, the way
/// PostgreSQL stores it, so the next page starts exactly after the last row whatever is inserted
/// meanwhile.
public struct Cursor: Sendable, Equatable {
    public var createdAtMicroseconds: Int64
    public var id: UUID

    public init(createdAtMicroseconds: Int64, id: UUID) {
        self.createdAtMicroseconds = createdAtMicroseconds
        self.id = id
    }

    /// The keyset condition "after the cursor", served by an index on `(created_at, id)`:
    /// `micros` and `id` name the bind parameters holding the cursor, `alias` the table.
    static func condition(micros: String, id: String, alias: String = "") -> String {
        let prefix = alias.isEmpty ? "" : alias + "."
        return "(\(prefix)created_at, \(prefix)id) > ('epoch'::timestamptz + \(micros)::bigint * interval '1 microsecond', \(id)::uuid)"
    }

    /// The same for lists whose first page binds NULL as `$1`: the cursor is `$1` and `$2`.
    static let afterParameters1And2 = "($1::bigint IS NULL OR \(condition(micros: "$1", id: "$2")))"

    /// Creation times a row can have: years 1 to 9999, as microseconds since 1970. Anything else
    /// was not issued by this server, and would overflow PostgreSQL's timestamp arithmetic.
    public static let validMicroseconds: ClosedRange<Int64> = -62_135_596_800_000_000...253_402_300_799_999_999

    /// Where the page after rows fetched with `LIMIT limit + 1` starts, or nil when the extra row
    /// is missing (this is the last page). Rows carry `id` and `created_at_us`.
    static func next<Rows: RandomAccessCollection<Row>>(_ rows: Rows, limit: Int) throws -> Cursor? where Rows.Index == Int {
        guard rows.count > limit else { return nil }
        let last = rows[rows.startIndex + limit - 1]
        return Cursor(createdAtMicroseconds: try last.decode("created_at_us"), id: try last.decode("id"))
    }

    public var token: String {
        Data("\(createdAtMicroseconds):\(id.lowercasedString)".utf8).base64URLEncoded
    }

    public init(token: String) throws(DomainError) {
        guard token.utf8.count <= 200, let data = Data(base64URLEncoded: token),
            let text = String(data: data, encoding: .utf8)
        else { throw .invalidCursor }
        let parts = text.split(separator: ":")
        guard parts.count == 2, let micros = Int64(parts[0]), Self.validMicroseconds.contains(micros),
            let id = UUID(uuidString: String(parts[1]))
        else {
            throw .invalidCursor
        }
        self.init(createdAtMicroseconds: micros, id: id)
    }
}

/// One page of a list, and where the next one starts.
public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    public var nextCursor: Cursor?

    public init(items: [Item], nextCursor: Cursor?) {
        self.items = items
        self.nextCursor = nextCursor
    }

    /// A page from rows fetched with `LIMIT limit + 1` in `(created_at, id)` order: the extra row
    /// only says that there is more. Rows carry `id` and `created_at_us` for the cursor.
    static func keyset<Rows: RandomAccessCollection<Row>>(
        _ rows: Rows,
        limit: Int,
        _ decode: (Row) throws -> Item
    ) throws -> Page where Rows.Index == Int {
        Page(items: try rows.prefix(limit).map(decode), nextCursor: try Cursor.next(rows, limit: limit))
    }
}

/// Page sizes every list accepts.
public enum PageSize {
    public static let `default` = 50
    public static let range = 1...200
}
