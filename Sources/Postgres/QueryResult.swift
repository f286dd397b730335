/// The rows of one statement, copied out of libpq's result so no C memory outlives the call.
public struct QueryResult: Sendable, RandomAccessCollection {
    public let columns: Columns
    let cells: Cells
    /// Rows inserted, updated, deleted or selected, as the command tag reports them.
    public let affectedRows: Int

    init(columns: Columns, cells: Cells, affectedRows: Int) {
        self.columns = columns
        self.cells = cells
        self.affectedRows = affectedRows
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { columns.count == 0 ? 0 : cells.count / columns.count }

    public subscript(position: Int) -> Row {
        Row(columns: columns, cells: cells, firstCell: position * columns.count)
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

/// Every cell of a result, row-major, in one byte buffer: a page of rows costs one copy instead
/// of a `String` (an allocation and a UTF-8 check) per cell. Cells become `String`s when they
/// are decoded; code that copies text through (JSON writers) reads the bytes.
@usableFromInline final class Cells: Sendable {
    @usableFromInline let bytes: [UInt8]
    /// Where each cell starts in `bytes` and how long it is; a length of -1 is SQL NULL.
    @usableFromInline let spans: [(start: Int, count: Int)]

    init(bytes: [UInt8], spans: [(start: Int, count: Int)]) {
        self.bytes = bytes
        self.spans = spans
    }

    static let none = Cells(bytes: [], spans: [])

    var count: Int { spans.count }

    @usableFromInline func string(at index: Int) -> String? {
        let span = spans[index]
        guard span.count >= 0 else { return nil }
        return bytes.withUnsafeBufferPointer { all in
            String(decoding: UnsafeBufferPointer(rebasing: all[span.start..<span.start + span.count]), as: UTF8.self)
        }
    }
}

/// A row's cells as bytes, valid only inside `Row.withCellBytes`.
public struct RowBytes {
    @usableFromInline let all: UnsafeBufferPointer<UInt8>
    @usableFromInline let spans: UnsafeBufferPointer<(start: Int, count: Int)>

    @usableFromInline init(all: UnsafeBufferPointer<UInt8>, spans: UnsafeBufferPointer<(start: Int, count: Int)>) {
        self.all = all
        self.spans = spans
    }

    /// The text of column `index` as PostgreSQL sent it, or nil for SQL NULL.
    @inlinable
    public subscript(index: Int) -> UnsafeBufferPointer<UInt8>? {
        let span = spans[index]
        guard span.count >= 0 else { return nil }
        return UnsafeBufferPointer(rebasing: all[span.start..<span.start + span.count])
    }
}

/// One row of a `QueryResult`; cells are decoded by column name or position.
public struct Row: Sendable {
    public let columns: QueryResult.Columns
    @usableFromInline let cells: Cells
    @usableFromInline let firstCell: Int

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
        switch Value.decode(cell: cells.string(at: firstCell + index), type: type) {
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
        return cells.string(at: firstCell + index)
    }

    /// The bytes of the row's cells, as PostgreSQL sent them (UTF-8 in a UTF-8 database; not
    /// checked here): for writers that copy text through, without a `String` or reference
    /// counting per cell.
    @inlinable
    public func withCellBytes<Result>(_ body: (RowBytes) throws -> Result) rethrows -> Result {
        try cells.bytes.withUnsafeBufferPointer { all in
            try cells.spans.withUnsafeBufferPointer { spans in
                try body(RowBytes(all: all, spans: UnsafeBufferPointer(rebasing: spans[firstCell..<firstCell + columns.count])))
            }
        }
    }

    /// Whether the named column is SQL NULL.
    public func isNull(_ column: String) throws -> Bool {
        guard let index = columns.index(of: column) else {
            throw RowDecodingError.missingColumn(column, available: columns.names)
        }
        return isNull(at: index)
    }

    public func isNull(at index: Int) -> Bool {
        precondition(index >= 0 && index < columns.count, "no column #\(index)")
        return cells.spans[firstCell + index].count < 0
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
