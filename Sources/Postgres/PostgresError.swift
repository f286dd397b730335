import CLibPQ

/// An error reported by PostgreSQL or by libpq, or raised by this client before anything was sent.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    /// What callers branch on; the SQLSTATE keeps the full detail.
    public enum Kind: Sendable, Equatable {
        /// The connection could not be opened, or broke while in use.
        case connection
        /// SQLSTATE 40001 or 40P01: the transaction lost a race and may be retried as a whole.
        case serializationFailure
        case uniqueViolation
        case foreignKeyViolation
        case checkViolation
        case notNullViolation
        case exclusionViolation
        /// A statement ran inside a transaction that had already failed.
        case transactionAborted
        /// A value could not be sent (for example a string holding a NUL character).
        case invalidParameter
        /// A time limit ran out: the statement timeout (57014) or the lock timeout (55P03).
        case timeout
        /// The statement was cancelled because its task was cancelled or its client went away.
        case cancelled
        case other
    }

    public var kind: Kind
    /// The five-character SQLSTATE, when the server sent one.
    public var sqlState: String?
    public var message: String
    public var detail: String?
    public var hint: String?
    public var constraint: String?
    public var table: String?
    public var column: String?
    /// Set when libpq could not send the statement: the server never saw it.
    var wasNotSent = false

    public init(
        kind: Kind,
        sqlState: String? = nil,
        message: String,
        detail: String? = nil,
        hint: String? = nil,
        constraint: String? = nil,
        table: String? = nil,
        column: String? = nil
    ) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
        self.constraint = constraint
        self.table = table
        self.column = column
    }

    /// Safe for logs: the SQLSTATE and the names of what failed, never a value. The server's
    /// DETAIL ("Failing row contains (...)") is left out, and so is its message unless its class
    /// names only objects and conditions (syntax, privileges, connections, locks, resources);
    /// data exceptions and integrity violations, for one, quote the value.
    public var description: String {
        var text = "PostgreSQL error"
        if let sqlState { text += " \(sqlState)" }
        let names = [("constraint", constraint), ("table", table), ("column", column)].compactMap { name, value in
            value.map { "\(name) \($0)" }
        }
        if !names.isEmpty { text += " (" + names.joined(separator: ", ") + ")" }
        if !mayQuoteValues { text += ": \(message)" }
        return text
    }

    /// Whether the server's message may hold a value the client sent or a row held. Messages
    /// written by this client or libpq (no SQLSTATE) never do.
    var mayQuoteValues: Bool {
        guard let sqlState else { return false }
        return !["08", "0A", "25", "40", "42", "53", "54", "55", "57", "58"].contains(String(sqlState.prefix(2)))
    }

    static func kind(forSQLState sqlState: String) -> Kind {
        switch sqlState {
        case "40001", "40P01": .serializationFailure
        case "23505": .uniqueViolation
        case "23503": .foreignKeyViolation
        case "23514": .checkViolation
        case "23502": .notNullViolation
        case "23P01": .exclusionViolation
        case "25P02": .transactionAborted
        case "57014", "55P03": .timeout
        // Class 08 is connection exceptions; 57P01..57P03 are the server shutting the session down.
        case _ where sqlState.hasPrefix("08"), "57P01", "57P02", "57P03": .connection
        default: .other
        }
    }

    /// Whether the error shows that the backend was gone before the statement could run: the
    /// server ended the session (57P01 terminated by an administrator, 57P02 crash, 57P03 not
    /// accepting connections) or the statement could not be sent. A statement that ran when the
    /// session ended was rolled back with it; one that merely lost its answer (the connection
    /// closed without a word) is not shown by this, since it may have committed.
    var provesBackendWasGone: Bool {
        wasNotSent || ["57P01", "57P02", "57P03"].contains(sqlState ?? "")
    }

    /// Reads the error fields of a failed result.
    init(result: OpaquePointer, connectionIsBad: Bool) {
        func field(_ code: Character) -> String? {
            guard let ascii = code.asciiValue, let value = PQresultErrorField(result, Int32(ascii)) else { return nil }
            return String(cString: value)
        }
        let sqlState = field("C")
        let primary = field("M") ?? String(cString: PQresultErrorMessage(result)).trimmingTrailingNewlines()
        var kind = sqlState.map(Self.kind(forSQLState:)) ?? .other
        if connectionIsBad { kind = .connection }
        self.init(
            kind: kind,
            sqlState: sqlState,
            message: primary,
            detail: field("D"),
            hint: field("H"),
            constraint: field("n"),
            table: field("t"),
            column: field("c")
        )
    }

    /// An error libpq reported on the connection itself (no result to read fields from).
    init(connectionMessage: UnsafePointer<CChar>?, fallback: String) {
        let text = connectionMessage.map { String(cString: $0).trimmingTrailingNewlines() } ?? ""
        self.init(kind: .connection, message: text.isEmpty ? fallback : text)
    }
}

extension String {
    func trimmingTrailingNewlines() -> String {
        var text = Substring(self)
        while let last = text.last, last.isNewline || last == " " { text.removeLast() }
        return String(text)
    }
}
