import Synchronization

/// Stops a running statement on the server: requested when the caller's task is cancelled, or
/// found when the client the statement works for has gone away.
final class StatementInterruption: Sendable {
    private let requested = Atomic<Bool>(false)
    private let abandoned: StatementScope.Watch?

    init(abandoned: StatementScope.Watch?) {
        self.abandoned = abandoned
    }

    func request() {
        requested.store(true, ordering: .relaxed)
    }

    var isRequested: Bool {
        requested.load(ordering: .relaxed) || (abandoned?.isAbandoned() ?? false)
    }
}

/// What the code calling the database knows about who waits for the answer.
public enum StatementScope {
    /// Says whether the client a statement works for has gone away.
    public final class Watch: Sendable {
        let isAbandoned: @Sendable () -> Bool

        public init(isAbandoned: @escaping @Sendable () -> Bool) {
            self.isAbandoned = isAbandoned
        }
    }

    /// Set around a request's handling: once its client is gone, statements still running for it
    /// are cancelled instead of finishing for nobody.
    @TaskLocal public static var watch: Watch?
}
