/// The rows of one statement, copied out of libpq's result so no C memory outlives the call.
public struct QueryResult: Sendable, RandomAccessCollection {
    public let columns: Columns
    /// Row-major cells; `nil` is SQL NULL.
    let cells: [String?]
    /// Rows inserted, updated, deleted or selected, as the command tag reports them.
    public let affectedRows: Int

    init(columns: Columns, cells: [String?], affectedRows: Int) {
        self.columns = columns
        self.cells = cells
        self.affectedRows = affectedRows
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { columns.count == 0 ? 0 : cells.count / columns.count }

    public subscript(position: Int) -> Row {
        let width = columns.count
        return Row(columns: columns, cells: cells[position * width..<(position + 1) * width])
    }

    /// The single row a statement must return; throws when there is none or more than one.
    public func single() throws -> Row {
        guard count == 1 else { throw RowDecodingError.unexpectedRowCount(expected: 1, actual: count) }
        return self[0]
    }

    /// Names and types of a result's columns, shared by all its rows.
    public final class Columns: Sendable {
        public let names: [String]
        public let types: [PostgresType]
        private let indexByName: [String: Int]

        init(names: [String], types: [PostgresType]) {
            self.names = names
            self.types = types
            var index: [String: Int] = [:]
            // With duplicate names the first wins, as in most drivers.
            for (position, name) in names.enumerated() where index[name] == nil {
                index[name] = position
            }
            self.indexByName = index
        }

        public var count: Int { names.count }

        @usableFromInline func index(of name: String) -> Int? { indexByName[name] }
    }
}

/// One row of a `QueryResult`; cells are decoded by column name or position.
public struct Row: Sendable {
    public let columns: QueryResult.Columns
    @usableFromInline let cells: ArraySlice<String?>

    /// Decodes the named column, naming the column and both types when they do not fit.
    @inlinable
    public func decode<Value: PostgresDecodable>(_ column: String, as _: Value.Type = Value.self) throws -> Value {
        guard let index = columns.index(of: column) else {
            throw RowDecodingError.missingColumn(column, available: columns.names)
        }
        return try decode(at: index)
    }

    @inlinable
    public func decode<Value: PostgresDecodable>(at index: Int, as _: Value.Type = Value.self) throws -> Value {
        guard index >= 0, index < columns.count else {
            throw RowDecodingError.missingColumn("#\(index)", available: columns.names)
        }
        let type = columns.types[index]
        let cell = cells[cells.startIndex + index]
        switch Value.decode(cell: cell, type: type) {
        case .success(let value):
            return value
        case .failure(let failure):
            throw RowDecodingError.cell(
                column: columns.names[index],
                columnType: type,
                swiftType: String(describing: Value.self),
                failure: failure
            )
        }
    }

    /// The cell as PostgreSQL sent it (its text form), or nil for SQL NULL: for code that copies
    /// values through without decoding them, where a generic decode per cell would cost more.
    public func text(at index: Int) -> String? {
        precondition(index >= 0 && index < columns.count, "no column #\(index)")
        return cells[cells.startIndex + index]
    }

    /// Whether the named column is SQL NULL.
    public func isNull(_ column: String) throws -> Bool {
        guard let index = columns.index(of: column) else {
            throw RowDecodingError.missingColumn(column, available: columns.names)
        }
        return cells[cells.startIndex + index] == nil
    }
}

/// A result that does not have the shape the code reading it expects.
public enum RowDecodingError: Error, Sendable, CustomStringConvertible, Equatable {
    case missingColumn(String, available: [String])
    case cell(column: String, columnType: PostgresType, swiftType: String, failure: CellDecodingFailure)
    case unexpectedRowCount(expected: Int, actual: Int)

    public var description: String {
        switch self {
        case .missingColumn(let name, let available):
            "no column \"\(name)\" in the result (columns: \(available.joined(separator: ", ")))"
        case .cell(let column, let columnType, let swiftType, let failure):
            switch failure {
            case .unexpectedNull:
                "column \"\(column)\" is NULL, which \(swiftType) cannot hold (decode it as an Optional)"
            case .typeMismatch:
                "column \"\(column)\" has type \(columnType), which does not decode as \(swiftType)"
            case .invalidValue:
                "column \"\(column)\" (\(columnType)) holds a value that is not a valid \(swiftType)"
            }
        case .unexpectedRowCount(let expected, let actual):
            "expected \(expected) row(s), got \(actual)"
        }
    }
}
