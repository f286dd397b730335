import Foundation
import Postgres

/// The personal-data map as erasures and exports read it: for every table that holds a person's
/// data, which columns name the person (the owners) and what erasing does to each personal column.
/// Read from the database in the erasing or exporting transaction, so a column a later migration
/// adds and classifies is erased and exported without a line of new code.
struct PersonalDataMap: Sendable {
    enum Action: String, Sendable {
        case deleteRow = "delete_row"
        case clear
        case anonymise
        case keep
    }

    /// A column holding the person's data, and what erasing does to it.
    struct Column: Sendable {
        let name: String
        let category: String
        let action: Action
        let legalBasis: String?
        /// SQL over the row: the value is kept while this holds, cleared otherwise.
        let keepCondition: String?
        let nullable: Bool
        /// The column's default, for clearing a column that cannot be NULL.
        let defaultExpression: String?

        /// What clearing writes.
        var clearedValue: String { nullable ? "NULL" : defaultExpression ?? "NULL" }

        var identifier: String { PersonalDataMap.quoted(name) }
    }

    /// How a row belongs to a person: `column` holds the id of a `subject` (lead, contact,
    /// customer, or person for any of them, told apart by `kindColumn` when there is one).
    struct Owner: Sendable {
        let subject: String
        let column: String
        let kindColumn: String?
    }

    struct Table: Sendable {
        let name: String
        let owners: [Owner]
        let columns: [Column]

        /// A person's rows go when any of their values must; otherwise the rows stay and the
        /// values are cleared, anonymised or kept one by one.
        var deletesRows: Bool { columns.contains { $0.action == .deleteRow } }

        var identifier: String { PersonalDataMap.quoted(name) }

        /// The person's rows: $1 lead ids, $2 contact ids, $3 customer ids (uuid[]).
        var ownedRows: String { ownedRows(alias: nil) }

        /// The same, for the table aliased `alias` in a query.
        func ownedRows(alias: String?) -> String {
            let prefix = alias.map { $0 + "." } ?? ""
            return owners.map { owner in
                let column = prefix + PersonalDataMap.quoted(owner.column)
                switch owner.subject {
                case "lead": return "\(column) = ANY ($1::uuid[])"
                case "contact": return "\(column) = ANY ($2::uuid[])"
                case "customer": return "\(column) = ANY ($3::uuid[])"
                default:
                    guard let kind = owner.kindColumn.map({ prefix + PersonalDataMap.quoted($0) }) else {
                        return "\(column) = ANY ($1::uuid[] || $2::uuid[] || $3::uuid[])"
                    }
                    return """
                        ((\(kind) = 'lead' AND \(column) = ANY ($1::uuid[])) OR (\(kind) = 'contact' AND \(column) = ANY ($2::uuid[])) \
                        OR (\(kind) = 'customer' AND \(column) = ANY ($3::uuid[])))
                        """
                }
            }.map { "(\($0))" }.joined(separator: " OR ")
        }
    }

    /// Tables in the order their rows can go: a table whose rows reference another's comes first.
    let tables: [Table]

    /// What anonymising writes: a marker that says a value was here and is gone.
    static let anonymisedMarker = "[erased]"

    static func load(on session: some Queryable) async throws -> PersonalDataMap {
        let owners = try await session.query(
            "SELECT table_name, subject, owner_column, kind_column FROM personal_data_owners ORDER BY table_name, subject, owner_column"
        )
        var ownersByTable: [String: [Owner]] = [:]
        for row in owners {
            ownersByTable[try row.decode("table_name"), default: []].append(
                Owner(subject: try row.decode("subject"), column: try row.decode("owner_column"), kindColumn: try row.decode("kind_column"))
            )
        }
        // Staff columns (who created a row, who was assigned) are the staff's data, not the person's.
        let columns = try await session.query(
            """
            SELECT m.table_name, m.column_name, m.category, m.erasure, m.legal_basis, m.keep_condition,
                   NOT a.attnotnull AS nullable, pg_get_expr(d.adbin, d.adrelid) AS default_expression
            FROM personal_data_map m
            JOIN pg_class t ON t.relname = m.table_name AND t.relnamespace = 'public'::regnamespace
            JOIN pg_attribute a ON a.attrelid = t.oid AND a.attname = m.column_name AND NOT a.attisdropped
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE m.table_name IN (SELECT table_name FROM personal_data_owners)
              AND m.subject IS DISTINCT FROM 'staff' AND m.erasure <> 'none'
            ORDER BY m.table_name, a.attnum
            """
        )
        var columnsByTable: [String: [Column]] = [:]
        for row in columns {
            let erasure: String = try row.decode("erasure")
            guard let action = Action(rawValue: erasure) else { throw ErasureRulesError.unknownAction(erasure) }
            columnsByTable[try row.decode("table_name"), default: []].append(
                Column(
                    name: try row.decode("column_name"), category: try row.decode("category"), action: action,
                    legalBasis: try row.decode("legal_basis"), keepCondition: try row.decode("keep_condition"),
                    nullable: try row.decode("nullable"), defaultExpression: try row.decode("default_expression")
                )
            )
        }
        let references = try await session.query(
            """
            SELECT child.relname AS child, parent.relname AS parent
            FROM pg_constraint c
            JOIN pg_class child ON child.oid = c.conrelid
            JOIN pg_class parent ON parent.oid = c.confrelid
            WHERE c.contype = 'f' AND c.conrelid <> c.confrelid
              AND child.relnamespace = 'public'::regnamespace AND parent.relnamespace = 'public'::regnamespace
            """
        ).map { (child: try $0.decode("child", as: String.self), parent: try $0.decode("parent", as: String.self)) }

        let tables = ownersByTable.keys.sorted().map { name in
            Table(name: name, owners: ownersByTable[name] ?? [], columns: columnsByTable[name] ?? [])
        }
        return PersonalDataMap(tables: try Self.childrenFirst(tables, references: references))
    }

    /// Orders tables so that every table comes before the tables it references.
    static func childrenFirst(_ tables: [Table], references: [(child: String, parent: String)]) throws -> [Table] {
        let names = Set(tables.map(\.name))
        var parents: [String: Set<String>] = [:]
        for reference in references where names.contains(reference.child) && names.contains(reference.parent) {
            parents[reference.child, default: []].insert(reference.parent)
        }
        var ordered: [Table] = []
        var placed: Set<String> = []
        var remaining = tables
        while !remaining.isEmpty {
            // A table is placed once every table referencing it is.
            let ready = remaining.filter { table in
                remaining.allSatisfy { other in other.name == table.name || !(parents[other.name]?.contains(table.name) ?? false) }
            }
            guard !ready.isEmpty else { throw ErasureRulesError.referenceCycle(remaining.map(\.name)) }
            ordered += ready
            placed.formUnion(ready.map(\.name))
            remaining.removeAll { placed.contains($0.name) }
        }
        return ordered
    }

    /// A name from the schema's own catalogue, quoted as an SQL identifier.
    static func quoted(_ identifier: String) -> String {
        "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

enum ErasureRulesError: Error, CustomStringConvertible {
    case unknownAction(String)
    case referenceCycle([String])

    var description: String {
        switch self {
        case .unknownAction(let action): "the personal-data map names an erasure action this server does not know: \(action)"
        case .referenceCycle(let tables): "the tables \(tables.joined(separator: ", ")) reference each other; no erasure order exists"
        }
    }
}
