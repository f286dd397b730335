import Foundation
import JSONText
import Postgres

/// What erasing a person does, table by table and column by column, counted from the data as it
/// is. The erasure computes the same plan under its locks, does it, and refuses to commit if any
/// count of rows differs.
public struct ErasurePlan: Sendable, Equatable {
    public enum ColumnAction: String, Sendable {
        case deleted, cleared, anonymised, kept
    }

    public enum TableAction: String, Sendable {
        /// The person's rows go.
        case deleted
        /// The rows stay; personal values in them are cleared or anonymised.
        case updated
        /// Rows and values stay, each with the legal basis the map gives.
        case kept
    }

    /// One column's fate: how many of the person's values are deleted, cleared, anonymised or kept.
    public struct ColumnEffect: Sendable, Equatable {
        public let column: String
        public let category: String
        public let action: ColumnAction
        public let values: Int
        public let legalBasis: String?
        public let keepCondition: String?
    }

    public struct TableEffect: Sendable, Equatable {
        public let table: String
        public let action: TableAction
        public let rows: Int
        public let columns: [ColumnEffect]
    }

    /// The lead, contact and customer records that are this person.
    public let subjects: [DataSubject]
    /// Tables where the person has rows, in the order the erasure goes through them.
    public let tables: [TableEffect]
    /// Email addresses that will be kept as keyed hashes, so staff are told if they enter one again.
    public let suppressedEmails: Int

    /// Rows per table that the erasure deletes or updates: what its tombstone records.
    public var counts: JSONValue {
        var counts: [String: JSONValue] = [:]
        for table in tables where table.action != .kept {
            counts[table.table] = .object([table.action.rawValue: .integer(table.rows)])
        }
        return .object(counts)
    }

    /// The plan; with `countingValues` false, rows per table only (what the erasure itself checks).
    static func compute(_ rules: PersonalDataMap, for person: PersonRecords, countingValues: Bool = true, on session: some Queryable)
        async throws -> ErasurePlan
    {
        var tables: [TableEffect] = []
        for table in rules.tables {
            let effect = try await Self.effect(on: table, for: person, countingValues: countingValues, on: session)
            if effect.rows > 0 { tables.append(effect) }
        }
        let emails = try await Suppressions.emails(of: person, on: session)
        let subjects =
            person.customers.map { DataSubject(.customer, id: $0) } + person.contacts.map { DataSubject(.contact, id: $0) }
            + person.leads.map { DataSubject(.lead, id: $0) }
        return ErasurePlan(subjects: subjects, tables: tables, suppressedEmails: emails.count)
    }

    /// Counts the person's rows in one table and, per column, the values each action touches.
    private static func effect(
        on table: PersonalDataMap.Table, for person: PersonRecords, countingValues: Bool, on session: some Queryable
    ) async throws -> TableEffect {
        var counters = ["count(*) AS rows"]
        var effects: [(column: PersonalDataMap.Column, action: ColumnAction, alias: String)] = []
        func count(_ column: PersonalDataMap.Column, _ action: ColumnAction, where condition: String) {
            let alias = "c\(effects.count)"
            counters.append("count(*) FILTER (WHERE \(condition)) AS \(alias)")
            effects.append((column, action, alias))
        }
        for column in table.columns where countingValues {
            let name = column.identifier
            if table.deletesRows {
                count(column, .deleted, where: "\(name) IS NOT NULL")
                continue
            }
            switch column.action {
            case .deleteRow:
                break
            case .clear:
                count(column, .cleared, where: "\(name) IS DISTINCT FROM \(column.clearedValue)")
            case .anonymise:
                count(column, .anonymised, where: "\(name) IS NOT NULL AND \(name) <> '\(PersonalDataMap.anonymisedMarker)'")
            case .keep:
                guard let condition = column.keepCondition else {
                    count(column, .kept, where: "\(name) IS NOT NULL")
                    continue
                }
                count(column, .kept, where: "\(name) IS NOT NULL AND coalesce((\(condition)), false)")
                count(column, .cleared, where: "\(name) IS DISTINCT FROM \(column.clearedValue) AND NOT coalesce((\(condition)), false)")
            }
        }
        let row = try await session.query(
            PersonRecords.parameterTypes + "SELECT \(counters.joined(separator: ", ")) FROM \(table.identifier) WHERE \(table.ownedRows)",
            person.parameters
        ).single()
        let columns = try effects.map { effect in
            ColumnEffect(
                column: effect.column.name, category: effect.column.category, action: effect.action,
                values: try row.decode(effect.alias, as: Int.self),
                legalBasis: effect.action == .kept ? effect.column.legalBasis : nil,
                keepCondition: effect.action == .kept ? effect.column.keepCondition : nil
            )
        }
        let changes =
            table.deletesRows || table.columns.contains { $0.action == .clear || $0.action == .anonymise || $0.keepCondition != nil }
        return TableEffect(
            table: table.name, action: table.deletesRows ? .deleted : changes ? .updated : .kept,
            rows: try row.decode("rows", as: Int.self), columns: columns
        )
    }

    /// Deletes or updates the person's rows of one table; returns how many rows it touched.
    static func apply(_ table: PersonalDataMap.Table, for person: PersonRecords, on transaction: PostgresSession) async throws -> Int {
        if table.deletesRows {
            return try await transaction.execute(
                PersonRecords.parameterTypes + "DELETE FROM \(table.identifier) WHERE \(table.ownedRows)", person.parameters)
        }
        let assignments = table.columns.compactMap { column -> String? in
            let name = column.identifier
            switch column.action {
            case .deleteRow: return nil
            case .clear: return "\(name) = \(column.clearedValue)"
            case .anonymise: return "\(name) = CASE WHEN \(name) IS NULL THEN NULL ELSE '\(PersonalDataMap.anonymisedMarker)' END"
            case .keep:
                guard let condition = column.keepCondition else { return nil }
                return "\(name) = CASE WHEN coalesce((\(condition)), false) THEN \(name) ELSE \(column.clearedValue) END"
            }
        }
        guard !assignments.isEmpty else { return 0 }
        return try await transaction.execute(
            PersonRecords.parameterTypes + "UPDATE \(table.identifier) SET \(assignments.joined(separator: ", ")) WHERE \(table.ownedRows)",
            person.parameters
        )
    }
}
