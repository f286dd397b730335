import Foundation
import JSONText
import Postgres

/// The SQL every CRM record table shares: create, read, list with filters and keyset pagination,
/// update with a revision check, delete. Table and column names come only from the fixed specs
/// in this module, never from a request; every value is a bind parameter.
public struct RecordTable: Sendable {
    public let table: String
    /// How errors name one record ("customer").
    public let resource: String
    public let columns: [ColumnSpec]
    /// Columns `q` searches for a substring, whatever the case and accents (one trigram index over
    /// all of them, migration 0020).
    public let searchColumns: [String]
    /// How common each trigram of the search texts is: what the index need not be asked for.
    let searchTrigrams: SearchTrigramStatistics
    /// Unique constraints and indexes, by the field they protect.
    public let uniqueFields: [String: String]

    /// Columns the API shows but only the server writes (such as a lead's conversion links).
    public let readOnlyColumns: [ColumnSpec]

    /// What must hold before a record is deleted, inside the deleting transaction (a person's
    /// provable history refuses it); the record type decides, not this table code.
    public typealias DeletionCheck = @Sendable (_ id: UUID, _ transaction: PostgresSession) async throws -> Void
    let deletionCheck: DeletionCheck?

    public init(
        table: String,
        resource: String,
        columns: [ColumnSpec],
        readOnlyColumns: [ColumnSpec] = [],
        searchColumns: [String],
        uniqueFields: [String: String],
        deletionCheck: DeletionCheck? = nil
    ) {
        self.readOnlyColumns = readOnlyColumns
        self.deletionCheck = deletionCheck
        self.table = table
        self.resource = resource
        self.columns = columns
        self.searchColumns = searchColumns
        self.searchTrigrams = SearchTrigramStatistics(table: table)
        self.uniqueFields = uniqueFields
        self.readColumns = columns + readOnlyColumns
        self.selectList = Self.selectList(of: readColumns, alias: nil)
        self.jsonMembers = Self.jsonMembers(of: readColumns)
    }

    /// Every column a record is read with; built once, as every read sends it.
    let selectList: String

    /// `selectList` for the table under `alias` in a statement that joins others (a feed's).
    func selectList(alias: String) -> String { Self.selectList(of: readColumns, alias: alias) }

    private static func selectList(of readColumns: [ColumnSpec], alias: String?) -> String {
        let prefix = alias.map { "\($0)." } ?? ""
        return (["id"] + readColumns.map(\.name) + ["custom_fields", "revision", "created_at", "updated_at"])
            .map { prefix + $0 }
            .joined(separator: ", ") + ", (extract(epoch FROM \(prefix)created_at) * 1000000)::bigint AS created_at_us"
    }

    /// The spec'd columns in `selectList`'s order, after `id`.
    let readColumns: [ColumnSpec]
    /// How a list writes a record's members, in key order.
    let jsonMembers: [JSONMember]

    /// A record from a row read with `selectList`: its body written as a list writes it, so a
    /// single read, a list entry and a feed line are the same bytes by construction.
    public func record(from row: Row) throws -> StoredRecord {
        var body: [UInt8] = []
        body.reserveCapacity(512)
        try writeJSON(of: row, to: &body)
        return StoredRecord(id: try row.decode(at: 0), revision: try row.decode(at: readColumns.count + 2), body: body, row: row)
    }

    /// Column names reach SQL text, so only this table's own specs may name them.
    private func requireKnownColumns(_ values: ColumnValues) throws {
        let known = Set(columns.map(\.name))
        let unknown = values.map(\.column).filter { !known.contains($0) }
        if !unknown.isEmpty {
            throw DomainError.invalid(unknown.map { FieldError(field: $0, message: "is not a column of \(resource)") })
        }
    }

    public func insert(_ values: ColumnValues, customFields: JSONValue, by actor: UUID?, on database: some Queryable) async throws
        -> StoredRecord
    {
        try requireKnownColumns(values)
        let names = values.map(\.column) + ["custom_fields", "created_by", "updated_by"]
        let placeholders = (1...names.count).map { "$\($0)" }.joined(separator: ", ")
        let parameters: [any PostgresBindable] = values.map(\.value.binding) + [customFields, actor, actor]
        let rows = try await translatingConstraints {
            try await database.query(
                "INSERT INTO \(table) (\(names.joined(separator: ", "))) VALUES (\(placeholders)) RETURNING \(selectList)",
                parameters
            )
        }
        return try record(from: rows.single())
    }

    /// The record as it is now; to change it, `lock` it instead.
    public func find(id: UUID, on database: some Queryable) async throws -> StoredRecord {
        let rows = try await database.query("SELECT \(selectList) FROM \(table) WHERE id = $1", [id])
        guard let row = rows.first else { throw DomainError.notFound(resource: resource) }
        return try record(from: row)
    }

    /// `find` for a client: the read's audit entry is committed before the record is returned.
    public func read(id: UUID, on database: some Queryable) async throws -> StoredRecord {
        let record = try await find(id: id, on: database)
        try await AuditTrail.record(.read, object: table, subjects: [id])
        return record
    }

    /// Locks the record for the rest of the transaction and returns it; refuses when
    /// `expectedRevision` (the caller's If-Match) is not the current one.
    public func lock(id: UUID, atRevision expectedRevision: Int64?, in transaction: PostgresSession) async throws -> StoredRecord {
        try record(
            from: try await transaction.lockRow(
                table, id: id, selecting: selectList, resource: resource, expectedRevision: expectedRevision))
    }

    /// Sets the given columns (and custom fields when given); refuses when `expectedRevision` is
    /// not the current one. Run it in a transaction together with the checks that belong to it.
    /// `actor` is the staff member, or nil when the person corrects their own record.
    public func update(
        id: UUID,
        _ values: ColumnValues,
        customFields: JSONValue?,
        expectedRevision: Int64?,
        by actor: UUID?,
        in transaction: PostgresSession
    ) async throws -> StoredRecord {
        try requireKnownColumns(values)
        _ = try await lock(id: id, atRevision: expectedRevision, in: transaction)
        if actor == nil {
            // No staff member: the person corrects their own record, which a restriction allows.
            try await Restrictions.actingAsThePerson(id, in: transaction)
        }
        var assignments = values.enumerated().map { "\($0.element.column) = $\($0.offset + 2)" }
        var parameters: [any PostgresBindable] = [id] + values.map(\.value.binding)
        if let customFields {
            // Keys sent are set, keys sent as null are removed, keys not sent stay.
            parameters.append(customFields)
            assignments.append("custom_fields = jsonb_strip_nulls(custom_fields || $\(parameters.count)::jsonb)")
        }
        parameters.append(actor)
        assignments.append("updated_by = $\(parameters.count)")
        let rows = try await translatingConstraints {
            try await transaction.query(
                "UPDATE \(table) SET \(assignments.joined(separator: ", ")) WHERE id = $1 RETURNING \(selectList)",
                parameters
            )
        }
        return try record(from: rows.single())
    }

    public func delete(id: UUID, expectedRevision: Int64?, in transaction: PostgresSession) async throws {
        _ = try await lock(id: id, atRevision: expectedRevision, in: transaction)
        try await deletionCheck?(id, transaction)
        try await translatingConstraints {
            try await transaction.execute("DELETE FROM \(table) WHERE id = $1", [id])
        }
    }

    /// What a list may be narrowed by.
    public struct Filter: Sendable {
        /// Column equals value; the column must be one of the table's specs.
        public var equals: [(column: String, value: ColumnValue)] = []
        public var createdFrom: Date?
        public var createdBefore: Date?
        /// A part of any of `searchColumns`, ignoring case and accents.
        public var search: String?
        /// Lists leave out records whose processing is restricted, unless an admin asks.
        public var includeRestricted = false

        public init() {}
    }

    /// The rows of a list page (`selectList`), with one more when another page follows.
    func listRows(_ filter: Filter, after cursor: Cursor?, limit: Int, on database: some Queryable) async throws -> QueryResult {
        var conditions: [String] = []
        var parameters: [any PostgresBindable] = []
        func bind(_ value: any PostgresBindable) -> String {
            parameters.append(value)
            return "$\(parameters.count)"
        }
        for (column, value) in filter.equals where columns.contains(where: { $0.name == column }) {
            conditions.append(value == .null ? "\(column) IS NULL" : "\(column) = \(bind(value.binding))")
        }
        if let from = filter.createdFrom { conditions.append("created_at >= \(bind(from))") }
        if let before = filter.createdBefore { conditions.append("created_at < \(bind(before))") }
        // A search's best plan depends on its text (see StatementPlanning.forItsValues): with one
        // generic plan, a rare text at 1,000,000 contacts started parallel workers for a row.
        var planning = StatementPlanning.prepared
        if let search = filter.search, !searchColumns.isEmpty {
            let frequencies = try await searchTrigrams.frequencies(on: database)
            conditions += searchConditions(search, trigramFrequencies: frequencies, bind: bind)
            planning = .forItsValues
        }
        if !filter.includeRestricted { conditions.append(Restrictions.notRestricted(table)) }
        if let cursor {
            let micros = bind(cursor.createdAtMicroseconds)
            let id = bind(cursor.id)
            conditions.append(Cursor.condition(micros: micros, id: id))
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let rows = try await database.query(
            "SELECT \(selectList) FROM \(table) \(whereClause) ORDER BY created_at, id LIMIT \(bind(limit + 1))", parameters,
            planning: planning)
        // The page's entry: the people it shows (not the one read to know that more follow).
        try await AuditTrail.record(.list, object: table, subjects: try rows.prefix(limit).map { try $0.decode("id", as: UUID.self) })
        return rows
    }

    /// What `q` adds to a list's conditions. When `search` has trigrams many records share, the
    /// index may be asked only for its parts without them (`SearchIndexParts`), and the whole
    /// text is checked on the rows those find; otherwise the index is asked for the whole text.
    func searchConditions(_ search: String, trigramFrequencies: TrigramFrequencies, bind: (any PostgresBindable) -> String) -> [String] {
        func containing(_ text: String) -> String { "'%' || search_text(\(bind(Self.likeEscaped(text)))) || '%'" }
        guard let parts = SearchIndexParts.parts(of: search, frequencies: trigramFrequencies) else {
            return ["\(searchText) LIKE \(containing(search))"]
        }
        // The whole text's condition is not written as the index's expression, so the planner
        // checks it on the rows found instead of asking the index for every trigram again.
        return parts.map { "\(searchText) LIKE \(containing($0))" } + ["(\(searchText) || '') LIKE \(containing(search))"]
    }

    /// The record's search text, exactly as its trigram index (migration 0020) computes it.
    var searchText: String {
        "search_text(" + searchColumns.map { "coalesce(\($0), '')" }.joined(separator: " || ' ' || ") + ")"
    }

    /// `q` with LIKE's own wildcards escaped, so that they match themselves.
    static func likeEscaped(_ search: String) -> String {
        var escaped = ""
        for character in search {
            if character == "%" || character == "_" || character == "\\" { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }

    /// Turns a constraint the database enforced into the field error it means.
    @discardableResult
    func translatingConstraints<Result>(_ body: () async throws -> Result) async throws -> Result {
        do {
            return try await body()
        } catch let error as PostgresError where error.kind == .uniqueViolation {
            if let field = error.constraint.flatMap({ uniqueFields[$0] }) { throw DomainError.duplicate(field: field) }
            throw DomainError.conflict("a unique value is taken already")
        } catch let error as PostgresError where error.sqlState == "23001" && error.constraint == "consent_records_append_only" {
            throw DomainError.conflict("this \(resource) has consent history, which must stay provable; erase the person instead")
        } catch let error as PostgresError where error.sqlState == "23001" && error.constraint == "restrictions_history" {
            throw DomainError.conflict("this \(resource) had its processing restricted, a history that must stay; erase the person instead")
        } catch let error as PostgresError where error.kind == .foreignKeyViolation {
            let field = columns.first { $0.kind == .reference && (error.constraint ?? "").contains($0.name) }?.name ?? "id"
            throw DomainError.invalid([FieldError(field: field, message: "no such record")])
        } catch let error as PostgresError where error.kind == .checkViolation {
            let field = columns.first { (error.constraint ?? "").contains($0.name) }?.name
            throw DomainError.invalid([FieldError(field: field ?? "body", message: "is not allowed here")])
        }
    }
}
