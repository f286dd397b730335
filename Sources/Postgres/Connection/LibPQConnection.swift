import CLibPQ
import Logging
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One libpq connection in non-blocking mode.
///
/// Statements are sent and their results read by the task that runs them, wherever it runs (an
/// event loop included): in non-blocking mode no libpq call waits, and the waits for the socket
/// go to `SocketWaiter`. Only connecting and cancelling, which libpq does with blocking calls,
/// run on the pool's threads. Not thread-safe: the pool lends it to one caller at a time, so
/// `@unchecked Sendable` states that contract rather than hiding a race. A second statement
/// started while one runs (a session shared between concurrent tasks) is refused.
final class LibPQConnection: @unchecked Sendable {
    private var handle: OpaquePointer?
    private let target: ConnectionTarget
    private let limits: SessionLimits
    private let notices: NoticeLogger
    /// Set when the connection must not be reused as it is (broken, or left inside a transaction).
    private var needsReset = false
    /// Set by the pool when it lends the connection: the first statement checks it (or reconnects).
    var checkBeforeNextStatement = true
    /// When the pool last took the connection back: one used within `trustedIdle` is not looked at
    /// before its next statement (see `exclusively`).
    var releasedAt = ContinuousClock.Instant.now
    static let trustedIdle = Duration.seconds(1)
    private let running = Atomic<Bool>(false)
    /// The number of the lease this connection is lent under; a session of an earlier lease is
    /// refused (see `PostgresSession`). Atomic because a kept session may be used from any task.
    private let lease = Atomic<UInt64>(0)
    /// The isolation level and mode of the transaction open on this connection, if any.
    var transactionMode: (isolation: IsolationLevel, readOnly: Bool)?
    /// Statements prepared on this connection, by their SQL: the server parses each once, and
    /// the names and types of their result columns are read once.
    private var prepared: [String: PreparedStatement] = [:]
    private var nextStatementNumber = 0
    /// Dynamic SQL (search filters, exports) makes new texts; past this many, all are forgotten.
    static let maxPreparedStatements = 500

    init(target: ConnectionTarget, limits: SessionLimits, logger: Logger) {
        self.target = target
        self.limits = limits
        self.notices = NoticeLogger(logger: logger)
    }

    deinit {
        disconnect()
    }

    /// Starts a new lease and returns its number; every session of an earlier one stops working.
    func beginLease() -> UInt64 {
        lease.add(1, ordering: .sequentiallyConsistent).newValue
    }

    /// Ends the current lease: its sessions stop working before the connection is lent again.
    func endLease() {
        lease.add(1, ordering: .sequentiallyConsistent)
    }

    func isLeased(_ number: UInt64) -> Bool {
        lease.load(ordering: .sequentiallyConsistent) == number
    }

    /// Opens the connection if there is none, or replaces one that broke or was left mid-transaction.
    private func prepareForUse(threads: NIOThreadPool) async throws {
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
        try await threads.runIfActive { [self] in try connect() }
        do {
            // Results are parsed assuming the first three; the server's or role's defaults may differ.
            let handle = try requireHandle()
            let sent = ParameterBuffers.with(limits.settingValues.map(PostgresBinding.text)) { values, lengths, formats in
                PQsendQueryParams(
                    handle,
                    """
                    SELECT set_config('TimeZone', 'UTC', false), set_config('DateStyle', 'ISO, YMD', false),
                           set_config('bytea_output', 'hex', false), set_config('statement_timeout', $1, false),
                           set_config('lock_timeout', $2, false), set_config('idle_in_transaction_session_timeout', $3, false)
                    """,
                    3, nil, values, lengths, formats, 0)
            }
            guard sent == 1 else { throw sendFailure(handle) }
            _ = try await collectResults(handle, interruption: nil, threads: threads)
        } catch {
            disconnect()
            throw error
        }
    }

    private func connect() throws {
        let (keywords, values) = target.connectionParameters()
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
        prepared.removeAll()
        notices.attach(to: connection)
        guard PQsetnonblocking(connection, 1) == 0 else {
            let error = sendFailure(connection)
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

    var isInTransaction: Bool {
        guard let handle else { return false }
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR
    }

    /// Runs one statement with `$1..$n` parameters through the extended protocol, as a prepared
    /// statement or, planned for its values, as the unnamed one. With an `interruption`, the
    /// statement is cancelled on the server when it is requested.
    func query(
        _ sql: String, _ parameters: [PostgresBinding], planning: StatementPlanning, interruption: StatementInterruption?,
        threads: NIOThreadPool
    ) async throws -> QueryResult {
        try await exclusively(threads: threads) { handle in
            for (position, parameter) in parameters.enumerated() {
                if case .text(let text) = parameter, text.utf8.contains(0) {
                    throw PostgresError(
                        kind: .invalidParameter,
                        message: "parameter $\(position + 1) contains a NUL character, which PostgreSQL text cannot store"
                    )
                }
            }
            if planning == .forItsValues {
                let sent = ParameterBuffers.with(parameters) { values, lengths, formats in
                    PQsendQueryParams(handle, sql, Int32(parameters.count), nil, values, lengths, formats, 0)
                }
                guard sent == 1 else { throw sendFailure(handle) }
                return try await collectResults(handle, interruption: interruption, threads: threads)
            }
            let statement = try await preparedStatement(for: sql, handle: handle, threads: threads)
            let sent = ParameterBuffers.with(parameters) { values, lengths, formats in
                PQsendQueryPrepared(handle, statement.name, Int32(parameters.count), values, lengths, formats, 0)
            }
            guard sent == 1 else { throw sendFailure(handle) }
            let result = try await collectResults(handle, interruption: interruption, threads: threads, knownColumns: statement.columns)
            if statement.columns == nil { prepared[sql]?.columns = result.columns }
            return result
        }
    }

    /// Runs SQL that may hold several statements and no parameters (the simple query protocol).
    func executeScript(_ sql: String, interruption: StatementInterruption?, threads: NIOThreadPool) async throws {
        try await exclusively(threads: threads) { handle in
            guard PQsendQuery(handle, sql) == 1 else { throw sendFailure(handle) }
            _ = try await collectResults(handle, interruption: interruption, threads: threads)
        }
    }

    /// Runs `body` as the connection's only statement, on a connection checked (or opened) first.
    private func exclusively<Result>(
        threads: NIOThreadPool, _ body: (OpaquePointer) async throws -> Result
    ) async throws -> Result {
        guard running.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            throw PostgresError(
                kind: .other,
                message: "a statement is already running on this connection: a session must not be shared between concurrent tasks"
            )
        }
        defer { running.store(false, ordering: .releasing) }
        var trusted = false
        if checkBeforeNextStatement {
            checkBeforeNextStatement = false
            trusted = isTrustedWithoutLooking
            if !trusted { try await prepareForUse(threads: threads) }
        }
        do {
            return try await body(try requireHandle())
        } catch let error as PostgresError where trusted && error.provesBackendWasGone {
            // Trusted without a look, the connection turned out dead before the statement ran:
            // as the look would have, open a new one and run the statement there.
            disconnect()
            try await prepareForUse(threads: threads)
            return try await body(try requireHandle())
        }
    }

    /// Whether the connection may serve its next statement without a look at its socket: it was
    /// used moments ago and left in good order. Looking costs a system call per lease, and under
    /// load every lease follows the last within microseconds; a backend terminated in between is
    /// found by the statement itself (`PostgresError.provesBackendWasGone`), as pgx's pool does.
    private var isTrustedWithoutLooking: Bool {
        guard let handle, !needsReset, ContinuousClock.now - releasedAt < Self.trustedIdle else { return false }
        return PQstatus(handle) == CONNECTION_OK && PQtransactionStatus(handle) == PQTRANS_IDLE
    }

    private struct PreparedStatement {
        let name: String
        /// Known after its first run; a statement's result shape never changes (PostgreSQL
        /// refuses to run it when the schema changed it).
        var columns: QueryResult.Columns?
    }

    /// The statement `sql` is prepared as on this connection, preparing it on first use. Protocol-
    /// level prepared statements outlive a rolled-back transaction, so the map stays true.
    private func preparedStatement(for sql: String, handle: OpaquePointer, threads: NIOThreadPool) async throws -> PreparedStatement {
        if let statement = prepared[sql] { return statement }
        if prepared.count >= Self.maxPreparedStatements {
            guard PQsendQuery(handle, "DEALLOCATE ALL") == 1 else { throw sendFailure(handle) }
            _ = try await collectResults(handle, interruption: nil, threads: threads)
            prepared.removeAll()
        }
        nextStatementNumber += 1
        let name = "custodian_\(nextStatementNumber)"
        guard PQsendPrepare(handle, name, sql, 0, nil) == 1 else { throw sendFailure(handle) }
        _ = try await collectResults(handle, interruption: nil, threads: threads)
        let statement = PreparedStatement(name: name, columns: nil)
        prepared[sql] = statement
        return statement
    }

    private func requireHandle() throws -> OpaquePointer {
        guard let handle else {
            throw PostgresError(kind: .connection, message: "the connection is closed")
        }
        return handle
    }

    private func sendFailure(_ handle: OpaquePointer) -> PostgresError {
        if PQstatus(handle) != CONNECTION_OK { needsReset = true }
        var error = PostgresError(connectionMessage: PQerrorMessage(handle), fallback: "the statement could not be sent")
        error.wasNotSent = true
        return error
    }

    /// Sends what libpq still holds, then waits for every result of the statement(s) sent,
    /// copying the last one and throwing the first error. When the interruption is requested
    /// while the server works, the statement is cancelled there and its results (the error
    /// 57014) are still read: the cancel request has gone out before the connection can run
    /// anything else, so it can never hit a later statement.
    private func collectResults(
        _ handle: OpaquePointer,
        interruption: StatementInterruption?,
        threads: NIOThreadPool,
        knownColumns: QueryResult.Columns? = nil
    ) async throws -> QueryResult {
        try await flush(handle)
        var cancelSent = false
        var firstError: PostgresError?
        var last = QueryResult(columns: .init(names: [], types: []), cells: .none, affectedRows: 0)
        while true {
            // A connection that broke has nothing more to wait for: what it said last (a FATAL
            // message, with its SQLSTATE) is PQgetResult's to return.
            while PQisBusy(handle) == 1 && PQstatus(handle) == CONNECTION_OK {
                if try await awaitServer(handle, interruption: cancelSent ? nil : interruption) {
                    cancelSent = true
                    await cancelOnServer(threads: threads)
                }
            }
            guard let result = PQgetResult(handle) else { break }
            defer { PQclear(result) }
            switch PQresultStatus(result) {
            case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
                if firstError == nil { last = Self.copy(result, knownColumns: knownColumns) }
            default:
                let connectionIsBad = PQstatus(handle) != CONNECTION_OK
                if connectionIsBad { needsReset = true }
                var error = PostgresError(result: result, connectionIsBad: connectionIsBad)
                if cancelSent && error.sqlState == "57014" { error.kind = .cancelled }
                firstError = firstError ?? error
            }
        }
        if PQstatus(handle) != CONNECTION_OK {
            needsReset = true
            throw firstError ?? PostgresError(connectionMessage: PQerrorMessage(handle), fallback: "the connection broke")
        }
        if let firstError { throw firstError }
        return last
    }

    /// Waits until libpq has sent all it holds (a large statement or parameter does not fit the
    /// socket's buffer at once), reading what the server sends meanwhile.
    private func flush(_ handle: OpaquePointer) async throws {
        while true {
            let status = PQflush(handle)
            if status == 0 { return }
            guard status > 0 else { throw sendFailure(handle) }
            _ = try await awaitServer(handle, forWriting: true, interruption: nil)
        }
    }

    /// Waits for the socket (to be readable, or with `forWriting` writable too) and reads what the
    /// server sent; true when the interruption was requested instead.
    ///
    /// A read first lets the tasks queued on this executor run and then reads at once: under load
    /// the answer is usually there by then, and the statement continues without the waiter
    /// thread's wake-up and hand-off back (two context switches); when it is not, the read found
    /// nothing (EAGAIN) and the caller waits as usual.
    private func awaitServer(_ handle: OpaquePointer, forWriting: Bool = false, interruption: StatementInterruption?) async throws -> Bool {
        if !forWriting {
            await Task.yield()
            // A connection that broke is left to the caller (see collectResults).
            guard PQconsumeInput(handle) == 1 else {
                needsReset = true
                return false
            }
            if PQisBusy(handle) == 0 { return false }
        }
        let readiness = await SocketWaiter.shared.wait(for: PQsocket(handle), forWriting: forWriting, interruption: interruption)
        if case .failed(let number) = readiness {
            needsReset = true
            throw PostgresError(kind: .connection, message: "waiting for the server failed (errno \(number))")
        }
        guard PQconsumeInput(handle) == 1 else {
            needsReset = true
            throw PostgresError(connectionMessage: PQerrorMessage(handle), fallback: "the connection broke")
        }
        return readiness == .interrupted
    }

    /// Asks the server to cancel what this connection runs. libpq does it with a blocking short
    /// connection of its own, so it runs on the pool's threads; it is sent even for a cancelled
    /// task (the usual reason to cancel), and returns once the request has gone out.
    private func cancelOnServer(threads: NIOThreadPool) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            threads.submit { [self] _ in
                if let handle, let cancel = PQgetCancel(handle) {
                    var errorBuffer = [CChar](repeating: 0, count: 256)
                    _ = PQcancel(cancel, &errorBuffer, Int32(errorBuffer.count))
                    PQfreeCancel(cancel)
                }
                continuation.resume()
            }
        }
    }

    private static func copy(_ result: OpaquePointer, knownColumns: QueryResult.Columns?) -> QueryResult {
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        let columns: QueryResult.Columns
        if let knownColumns, knownColumns.count == columnCount {
            columns = knownColumns
        } else {
            var names: [String] = []
            var types: [PostgresType] = []
            names.reserveCapacity(columnCount)
            types.reserveCapacity(columnCount)
            for column in 0..<Int32(columnCount) {
                names.append(String(cString: PQfname(result, column)))
                types.append(PostgresType(oid: PQftype(result, column)))
            }
            columns = .init(names: names, types: types)
        }
        var spans: [(start: Int, count: Int)] = []
        spans.reserveCapacity(rowCount * columnCount)
        var size = 0
        for row in 0..<Int32(rowCount) {
            // A NULL's length is 0.
            for column in 0..<Int32(columnCount) { size += Int(PQgetlength(result, row, column)) }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size)
        for row in 0..<Int32(rowCount) {
            for column in 0..<Int32(columnCount) {
                if PQgetisnull(result, row, column) == 1 {
                    spans.append((bytes.count, -1))
                } else {
                    let length = Int(PQgetlength(result, row, column))
                    spans.append((bytes.count, length))
                    bytes.append(contentsOf: UnsafeRawBufferPointer(start: PQgetvalue(result, row, column), count: length))
                }
            }
        }
        let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
        return QueryResult(columns: columns, cells: Cells(bytes: bytes, spans: spans), affectedRows: affected)
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

func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeBufferPointer { buffer in
        buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) { body($0) }
    }
}
