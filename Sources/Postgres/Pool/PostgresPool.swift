import Logging
import NIOPosix
import ServiceLifecycle
import Synchronization

/// A bounded pool of libpq connections, with threads of its own for libpq's blocking calls.
///
/// Callers wait (up to a timeout) when every connection is in use. A connection is lent to one
/// caller at a time. Its statements run in libpq's non-blocking mode on the caller's own thread
/// (an event loop's too), waiting for the socket through `SocketWaiter`; connecting and cancelling,
/// which block, run on the pool's threads, never on a SwiftNIO event loop or Swift's cooperative
/// executor. Connections open lazily, and one that broke (server restart, terminated backend) is
/// replaced when it is next lent out.
public final class PostgresPool: Sendable {
    public struct Configuration: Sendable {
        /// A libpq connection string or URL, passed to libpq unchanged.
        public var connectionString: String
        /// Connects to this database instead of the one the connection string names.
        public var databaseName: String?
        /// Connects as this role instead of the one the connection string names.
        public var user: String?
        public var maxConnections: Int
        /// How long a caller waits for a free connection before `PostgresPoolError.acquireTimeout`.
        public var acquireTimeout: Duration
        /// Statement, lock and idle-in-transaction time limits of every session.
        public var limits: SessionLimits
        /// How often a transaction that lost a race (serialization failure, deadlock) is run again.
        public var transactionRetries: Int

        public init(
            connectionString: String,
            databaseName: String? = nil,
            user: String? = nil,
            maxConnections: Int = 8,
            acquireTimeout: Duration = .seconds(10),
            limits: SessionLimits = .api,
            transactionRetries: Int = 3
        ) {
            self.connectionString = connectionString
            self.databaseName = databaseName
            self.user = user
            self.maxConnections = max(1, maxConnections)
            self.acquireTimeout = acquireTimeout
            self.limits = limits
            self.transactionRetries = max(0, transactionRetries)
        }
    }

    public let configuration: Configuration
    let logger: Logger
    let threads: NIOThreadPool
    private let lending: Mutex<LendingState>
    /// Callers that had to queue for a connection, the nanoseconds they queued in all, and those
    /// whose timeout passed first: counted only off the path that finds a connection free.
    private let waits = Atomic<Int>(0)
    private let waitedNanoseconds = Atomic<Int64>(0)
    private let acquireTimeouts = Atomic<Int>(0)

    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.threads = NIOThreadPool(numberOfThreads: configuration.maxConnections)
        self.threads.start()
        self.lending = Mutex(LendingState())
    }

    /// Lends a connection to `body` and takes it back afterwards, whatever happens. Inside
    /// `withAmbientTransaction`, `body` gets that transaction's session instead.
    @discardableResult
    public func withConnection<Result>(
        timeout: Duration? = nil,
        _ body: (PostgresSession) async throws -> Result
    ) async throws -> Result {
        if let ambient = ambientSession { return try await body(ambient) }
        let connection = try await acquire(timeout: timeout ?? configuration.acquireTimeout)
        let session = PostgresSession(connection: connection, lease: connection.beginLease(), threads: threads)
        // Whatever `body` kept of the session stops working here, before anyone else gets the connection.
        defer { release(connection) }
        return try await body(session)
    }

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    ///
    /// A transaction that loses a race (serialization failure or deadlock, which PostgreSQL rolls
    /// back) runs again, up to `transactionRetries` times, so `body` must do nothing but database
    /// work that may be repeated. A failure whose outcome is unknown (the connection broke around
    /// the COMMIT) is never retried. Inside `withAmbientTransaction`, `body` runs in a savepoint
    /// of that transaction, whose owner retries.
    @discardableResult
    public func transaction<Result>(
        isolation: IsolationLevel? = nil,
        readOnly: Bool? = nil,
        _ body: (PostgresSession) async throws -> Result
    ) async throws -> Result {
        if let ambient = ambientSession {
            return try await ambient.transaction(isolation: isolation, readOnly: readOnly, body)
        }
        var attempt = 0
        while true {
            do {
                return try await withConnection { session in
                    try await session.transaction(isolation: isolation, readOnly: readOnly, body)
                }
            } catch let error as PostgresError where error.kind == .serializationFailure && attempt < configuration.transactionRetries {
                attempt += 1
                logger.debug("transaction retried", metadata: ["postgres.sqlstate": "\(error.sqlState ?? "")", "attempt": "\(attempt)"])
                // Jitter keeps the transactions that collided from colliding again at once.
                try await Task.sleep(for: .milliseconds(Int.random(in: 1...(4 << attempt))))
            }
        }
    }

    /// Runs `body` in one transaction that every statement `body` sends through this pool joins
    /// (nested `transaction` calls become savepoints, inheriting its READ COMMITTED): for the one
    /// piece of work whose parts are written by code that knows nothing of each other, a create
    /// and the record of its idempotency key. Everything else passes its transaction explicitly.
    /// Retried as a whole like `transaction`; `body` must not share the pool between concurrent tasks.
    @discardableResult
    public func withAmbientTransaction<Result>(_ body: () async throws -> Result) async throws -> Result {
        try await transaction { session in
            try await Self.$ambient.withValue(Ambient(pool: ObjectIdentifier(self), session: session)) {
                try await body()
            }
        }
    }

    private struct Ambient: Sendable {
        let pool: ObjectIdentifier
        let session: PostgresSession
    }

    @TaskLocal private static var ambient: Ambient?

    private var ambientSession: PostgresSession? {
        guard let ambient = Self.ambient, ambient.pool == ObjectIdentifier(self) else { return nil }
        return ambient.session
    }

    /// Closes every connection and stops the pool's threads; waiting callers fail with `.closed`.
    /// Connections lent out at this moment are closed when they come back.
    public func close() async {
        let (idle, waiters) = lending.withLock { state in
            state.isClosed = true
            state.created -= state.idle.count
            state.expiryWatch?.task.cancel()
            state.expiryWatch = nil
            defer {
                state.idle.removeAll()
                state.waiters.removeAll()
            }
            return (state.idle, state.waiters)
        }
        for waiter in waiters {
            waiter.continuation.resume(throwing: PostgresPoolError.closed)
        }
        _ = try? await threads.runIfActive {
            for connection in idle { connection.disconnect() }
        }
        try? await threads.shutdownGracefully()
    }

    // MARK: Lending

    struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<LibPQConnection, any Error>
        let timeout: Duration
        let deadline: ContinuousClock.Instant
    }

    /// The one task that fails waiters whose timeout passed. A sleeping task per waiter cost
    /// every wait a timer armed and cancelled on another thread; this one wakes at the earliest
    /// deadline, which under load lies far beyond the moment each waiter is served.
    struct ExpiryWatch {
        let id: UInt64
        let task: Task<Void, Never>
        var wake: ContinuousClock.Instant
    }

    struct LendingState {
        var idle: [LibPQConnection] = []
        /// Connections that exist, idle or lent out; never more than `maxConnections`.
        var created = 0
        var lent = 0
        var waiters: [Waiter] = []
        /// Waiters whose task was cancelled before they could queue.
        var cancelledBeforeQueueing: Set<UInt64> = []
        var nextWaiterID: UInt64 = 0
        var expiryWatch: ExpiryWatch?
        var isClosed = false
    }

    private enum Lend {
        case now(LibPQConnection)
        case failed(any Error)
        case queued
    }

    func acquire(timeout: Duration) async throws -> LibPQConnection {
        // The common case takes a connection without suspending: a continuation that is resumed at
        // once still costs the task a trip through the executor's queue.
        let immediate: LibPQConnection? = lending.withLock { state in
            guard !state.isClosed, state.waiters.isEmpty else { return nil }
            return takeConnection(&state)
        }
        if let immediate {
            immediate.checkBeforeNextStatement = true
            return immediate
        }
        let waiterID = lending.withLock { state in
            state.nextWaiterID &+= 1
            return state.nextWaiterID
        }
        let queuedAt = ContinuousClock.now
        defer {
            let waited = (ContinuousClock.now - queuedAt).components
            waits.add(1, ordering: .relaxed)
            waitedNanoseconds.add(waited.seconds * 1_000_000_000 + waited.attoseconds / 1_000_000_000, ordering: .relaxed)
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<LibPQConnection, any Error>) in
                let lend: Lend = lending.withLock { state in
                    if state.isClosed { return .failed(PostgresPoolError.closed) }
                    if state.cancelledBeforeQueueing.remove(waiterID) != nil { return .failed(CancellationError()) }
                    if let connection = takeConnection(&state) { return .now(connection) }
                    let deadline = ContinuousClock.now.advanced(by: timeout)
                    state.waiters.append(Waiter(id: waiterID, continuation: continuation, timeout: timeout, deadline: deadline))
                    watchExpiry(of: deadline, &state)
                    return .queued
                }
                switch lend {
                case .now(let connection):
                    connection.checkBeforeNextStatement = true
                    continuation.resume(returning: connection)
                case .failed(let error):
                    continuation.resume(throwing: error)
                case .queued:
                    break
                }
            }
        } onCancel: {
            failWaiter(waiterID, with: CancellationError(), evenIfNotQueued: true)
        }
    }

    /// An idle connection, or a new one while the pool is below its size; nil when all are lent.
    private func takeConnection(_ state: inout LendingState) -> LibPQConnection? {
        if let connection = state.idle.popLast() {
            state.lent += 1
            return connection
        }
        guard state.created < configuration.maxConnections else { return nil }
        state.created += 1
        state.lent += 1
        return LibPQConnection(
            target: ConnectionTarget(
                connectionString: configuration.connectionString,
                databaseName: configuration.databaseName,
                user: configuration.user
            ),
            limits: configuration.limits,
            logger: logger
        )
    }

    /// Makes sure the expiry watch wakes no later than `deadline`.
    private func watchExpiry(of deadline: ContinuousClock.Instant, _ state: inout LendingState) {
        if let watch = state.expiryWatch {
            if watch.wake <= deadline { return }
            watch.task.cancel()
        }
        state.nextWaiterID &+= 1
        let watchID = state.nextWaiterID
        let task = Task.detached { [weak self] in
            var wake = deadline
            while true {
                try? await Task.sleep(until: wake, clock: .continuous)
                guard let self, let next = self.failExpiredWaiters(watchID: watchID) else { return }
                wake = next
            }
        }
        state.expiryWatch = ExpiryWatch(id: watchID, task: task, wake: deadline)
    }

    /// Fails the waiters whose deadline passed; the next wake-up, or nil when the watch ends
    /// (nobody waits, or a watch with an earlier wake-up replaced this one).
    private func failExpiredWaiters(watchID: UInt64) -> ContinuousClock.Instant? {
        let now = ContinuousClock.now
        let (expired, next): ([Waiter], ContinuousClock.Instant?) = lending.withLock { state in
            guard let watch = state.expiryWatch, watch.id == watchID else { return ([], nil) }
            let expired = state.waiters.filter { $0.deadline <= now }
            state.waiters.removeAll { $0.deadline <= now }
            guard let next = state.waiters.map(\.deadline).min() else {
                state.expiryWatch = nil
                return (expired, nil)
            }
            state.expiryWatch?.wake = next
            return (expired, next)
        }
        acquireTimeouts.add(expired.count, ordering: .relaxed)
        for waiter in expired {
            waiter.continuation.resume(throwing: PostgresPoolError.acquireTimeout(waiter.timeout))
        }
        return next
    }

    private func failWaiter(_ waiterID: UInt64, with error: any Error, evenIfNotQueued: Bool) {
        let waiter: Waiter? = lending.withLock { state in
            if let index = state.waiters.firstIndex(where: { $0.id == waiterID }) {
                return state.waiters.remove(at: index)
            }
            if evenIfNotQueued { state.cancelledBeforeQueueing.insert(waiterID) }
            return nil
        }
        guard let waiter else { return }
        waiter.continuation.resume(throwing: error)
    }

    func release(_ connection: LibPQConnection) {
        connection.endLease()
        connection.invalidateIfNotIdle()
        connection.releasedAt = .now
        let (waiter, closeNow): (Waiter?, Bool) = lending.withLock { state in
            if state.isClosed {
                state.lent -= 1
                state.created -= 1
                return (nil, true)
            }
            if !state.waiters.isEmpty {
                return (state.waiters.removeFirst(), false)
            }
            state.lent -= 1
            state.idle.append(connection)
            return (nil, false)
        }
        if closeNow {
            // Only during shutdown: the pool's threads may be gone, and PQfinish does not wait on the server.
            connection.disconnect()
        } else if let waiter {
            connection.checkBeforeNextStatement = true
            waiter.continuation.resume(returning: connection)
        }
    }

    /// Since the pool started: callers that queued for a connection, the seconds they queued in
    /// all, and those that gave up when their timeout passed. For metrics (rates and averages).
    public var waitTotals: (waits: Int, seconds: Double, timeouts: Int) {
        (
            waits.load(ordering: .relaxed), Double(waitedNanoseconds.load(ordering: .relaxed)) / 1e9,
            acquireTimeouts.load(ordering: .relaxed)
        )
    }

    /// Connections lent out and idle, and callers waiting, at this moment: for metrics and tests.
    public var usage: (lent: Int, idle: Int, waiting: Int) {
        lending.withLock { ($0.lent, $0.idle.count, $0.waiters.count) }
    }
}

/// A session used in a way that cannot be right: a bug in the caller, never the server's doing.
public enum PostgresUsageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The session was kept after the closure it was lent to returned.
    case sessionEnded
    /// A transaction nested in another asked for an isolation level or mode the outer one does
    /// not have; a savepoint cannot give it.
    case nestedTransactionMode(outer: String, asked: String)

    public var description: String {
        switch self {
        case .sessionEnded: "a database session was used after the closure it was lent to had returned"
        case .nestedTransactionMode(let outer, let asked):
            "a transaction nested in one that is \(outer) asked to be \(asked); it can only inherit the outer transaction's"
        }
    }
}

public enum PostgresPoolError: Error, Sendable, Equatable, CustomStringConvertible {
    case acquireTimeout(Duration)
    case closed

    public var description: String {
        switch self {
        case .acquireTimeout(let timeout): "no database connection became free within \(timeout)"
        case .closed: "the connection pool is closed"
        }
    }
}

extension PostgresPool: Queryable {
    /// One statement on a free connection. A statement that changes data, sent while
    /// `PostgresSession.transactionSettings` are set, runs in a transaction of its own that
    /// begins with them: triggers that need to know who acts see them on every change, not only
    /// on those that already had a transaction. Reads stay one round trip.
    public func query(_ sql: String, _ parameters: [any PostgresBindable], planning: StatementPlanning) async throws -> QueryResult {
        if ambientSession == nil, !PostgresSession.transactionSettings.isEmpty, Self.changesData(sql) {
            return try await transaction { try await $0.query(sql, parameters, planning: planning) }
        }
        return try await withConnection { try await $0.query(sql, parameters, planning: planning) }
    }

    /// Whether a statement's first word makes it a change (INSERT, UPDATE, DELETE, MERGE).
    static func changesData(_ sql: String) -> Bool {
        // Every query asks: the first word, folded to upper case, packed into an integer.
        var word: UInt64 = 0
        var length = 0
        for byte in sql.utf8.drop(while: { $0 == 0x20 || $0 == 0x0A || $0 == 0x09 || $0 == 0x0D }) {
            let upper = byte & 0xDF
            guard byte >= 0x41, upper >= 0x41 && upper <= 0x5A else { break }
            length += 1
            guard length <= 7 else { return false }
            word = word << 8 | UInt64(upper)
        }
        return Self.changingWords.contains(word)
    }

    private static let changingWords: [UInt64] = ["INSERT", "UPDATE", "DELETE", "MERGE"].map { name in
        name.utf8.reduce(0) { $0 << 8 | UInt64($1) }
    }
}

extension PostgresPool: Service {
    /// Keeps the pool open while the service group runs and closes it on graceful shutdown,
    /// which comes after the HTTP server has finished its in-flight requests.
    public func run() async throws {
        try? await gracefulShutdown()
        await close()
    }
}
