import CLibPQ
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// One libpq connection, used through blocking calls only.
///
/// Not thread-safe: the pool hands it to one caller at a time and every call runs on the pool's
/// own threads, so `@unchecked Sendable` states that contract rather than hiding a race.
final class LibPQConnection: @unchecked Sendable {
    private var handle: OpaquePointer?
    private let connectionString: String
    private let databaseName: String?
    private let notices: NoticeLogger
    /// Set when the connection must not be reused as it is (broken, or left inside a transaction).
    private var needsReset = false
    /// Set by the pool when it lends the connection: the first statement checks it (or reconnects)
    /// in the same hop to the pool's threads as the statement itself.
    var checkBeforeNextStatement = true

    init(connectionString: String, databaseName: String?, logger: Logger) {
        self.connectionString = connectionString
        self.databaseName = databaseName
        self.notices = NoticeLogger(logger: logger)
    }

    deinit {
        disconnect()
    }

    /// Opens the connection if there is none, or replaces one that broke or was left mid-transaction.
    private func prepareForUse() throws {
        if let handle {
            // PQconsumeInput reads, without blocking, what the server sent while the connection sat
            // idle. A terminated backend sends a FATAL message and then closes: the first call takes
            // the message, the second sees EOF and turns the status to CONNECTION_BAD.
            let alive =
                !needsReset && PQconsumeInput(handle) == 1 && PQconsumeInput(handle) == 1
                && PQstatus(handle) == CONNECTION_OK && PQtransactionStatus(handle) == PQTRANS_IDLE
            if alive { return }
            disconnect()
        }
        try connect()
    }

    private func connect() throws {
        // Defaults first: libpq lets the expanded connection string override them, and a second
        // `dbname` after it is taken as a plain database name that overrides the string's.
        var keywords = ["fallback_application_name", "connect_timeout", "client_encoding", "dbname"]
        var values = ["custodian", "10", "UTF8", connectionString]
        if let databaseName {
            keywords.append("dbname")
            values.append(databaseName)
        }
        let connection = withCStringArray(keywords) { keywordPointers in
            withCStringArray(values) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let connection else {
            throw PostgresError(kind: .connection, message: "libpq could not allocate a connection")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let error = PostgresError(connectionMessage: PQerrorMessage(connection), fallback: "connection failed")
            PQfinish(connection)
            throw error
        }
        handle = connection
        needsReset = false
        notices.attach(to: connection)
        do {
            // Results are parsed assuming these; the server's or role's defaults may differ.
            try executeScript("SET TimeZone TO 'UTC'; SET DateStyle TO 'ISO, YMD'; SET bytea_output TO 'hex'")
        } catch {
            disconnect()
            throw error
        }
    }

    func disconnect() {
        if let handle {
            PQfinish(handle)
            self.handle = nil
        }
    }

    /// Marks the connection for replacement at its next use, when the pool takes it back in an unknown state.
    func invalidateIfNotIdle() {
        guard let handle else { return }
        if PQstatus(handle) != CONNECTION_OK || PQtransactionStatus(handle) != PQTRANS_IDLE {
            needsReset = true
        }
    }

    var isInFailedTransaction: Bool {
        guard let handle else { return false }
        return PQtransactionStatus(handle) == PQTRANS_INERROR
    }

    /// Runs one statement with `$1..$n` parameters through the extended protocol.
    func query(_ sql: String, _ parameters: [PostgresBinding]) throws -> QueryResult {
        let handle = try requireHandle()
        for (position, parameter) in parameters.enumerated() {
            if case .text(let text) = parameter, text.utf8.contains(0) {
                throw PostgresError(
                    kind: .invalidParameter,
                    message: "parameter $\(position + 1) contains a NUL character, which PostgreSQL text cannot store"
                )
            }
        }
        let result = ParameterBuffers.with(parameters) { values, lengths, formats in
            PQexecParams(handle, sql, Int32(parameters.count), nil, values, lengths, formats, 0)
        }
        return try consume(result, handle: handle)
    }

    /// Runs SQL that may hold several statements and no parameters (the simple query protocol).
    func executeScript(_ sql: String) throws {
        let handle = try requireHandle()
        _ = try consume(PQexec(handle, sql), handle: handle)
    }

    private func requireHandle() throws -> OpaquePointer {
        if checkBeforeNextStatement {
            checkBeforeNextStatement = false
            try prepareForUse()
        }
        guard let handle else {
            throw PostgresError(kind: .connection, message: "the connection is closed")
        }
        return handle
    }

    private func consume(_ result: OpaquePointer?, handle: OpaquePointer) throws -> QueryResult {
        guard let result else {
            needsReset = true
            throw PostgresError(connectionMessage: PQerrorMessage(handle), fallback: "no result from the server")
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return Self.copy(result)
        default:
            let connectionIsBad = PQstatus(handle) != CONNECTION_OK
            if connectionIsBad { needsReset = true }
            throw PostgresError(result: result, connectionIsBad: connectionIsBad)
        }
    }

    private static func copy(_ result: OpaquePointer) -> QueryResult {
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        var names: [String] = []
        var types: [PostgresType] = []
        names.reserveCapacity(columnCount)
        types.reserveCapacity(columnCount)
        for column in 0..<Int32(columnCount) {
            names.append(String(cString: PQfname(result, column)))
            types.append(PostgresType(oid: PQftype(result, column)))
        }
        var cells: [String?] = []
        cells.reserveCapacity(rowCount * columnCount)
        for row in 0..<Int32(rowCount) {
            for column in 0..<Int32(columnCount) {
                if PQgetisnull(result, row, column) == 1 {
                    cells.append(nil)
                } else {
                    let length = Int(PQgetlength(result, row, column))
                    let bytes = UnsafeRawBufferPointer(start: PQgetvalue(result, row, column), count: length)
                    cells.append(String(decoding: bytes, as: UTF8.self))
                }
            }
        }
        let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
        return QueryResult(columns: .init(names: names, types: types), cells: cells, affectedRows: affected)
    }
}

/// Keeps C copies of a parameter list alive for the duration of one libpq call.
private enum ParameterBuffers {
    static func with<R>(
        _ parameters: [PostgresBinding],
        _ body: (UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?) -> R
    ) -> R {
        var storage: [UnsafeMutableRawBufferPointer?] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        storage.reserveCapacity(parameters.count)
        defer { for buffer in storage { buffer?.deallocate() } }
        for parameter in parameters {
            switch parameter {
            case .null:
                storage.append(nil)
                lengths.append(0)
                formats.append(0)
            case .text(let text):
                let utf8 = Array(text.utf8)
                storage.append(copy(utf8, terminated: true))
                lengths.append(Int32(utf8.count))
                formats.append(0)
            case .binary(let bytes):
                storage.append(copy(bytes, terminated: false))
                lengths.append(Int32(bytes.count))
                formats.append(1)
            }
        }
        let values: [UnsafePointer<CChar>?] = storage.map {
            $0.map { UnsafePointer($0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
        }
        return values.withUnsafeBufferPointer { valuePointers in
            lengths.withUnsafeBufferPointer { lengthPointers in
                formats.withUnsafeBufferPointer { formatPointers in
                    body(valuePointers.baseAddress, lengthPointers.baseAddress, formatPointers.baseAddress)
                }
            }
        }
    }

    private static func copy(_ bytes: [UInt8], terminated: Bool) -> UnsafeMutableRawBufferPointer {
        // Always at least one byte, so even an empty value has a non-null address.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count + 1, alignment: 1)
        buffer.copyBytes(from: bytes)
        buffer[bytes.count] = 0
        return buffer
    }
}

private func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeBufferPointer { buffer in
        buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) { body($0) }
    }
}
