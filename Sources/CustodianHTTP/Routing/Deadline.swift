import NIOCore

extension TimeAmount {
    /// The same span, for NIO's and AsyncHTTPClient's timeouts (to the nanosecond).
    init(_ duration: Duration) {
        self = .nanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }
}

/// Thrown by `withDeadline` when the work did not finish in time.
struct DeadlineExceeded: Error {}

/// Runs `work`, cancelling it and throwing `DeadlineExceeded` once `limit` has passed. The work
/// must end when cancelled (socket reads and writes through NIO do).
func withDeadline<Result: Sendable>(_ limit: Duration, _ work: @escaping @Sendable () async throws -> Result) async throws -> Result {
    try await withThrowingTaskGroup(of: Result?.self) { group in
        group.addTask { try await work() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let result = first else { throw DeadlineExceeded() }
        return result
    }
}
