import Synchronization

/// Stops a running statement on the server: requested when the caller's task is cancelled, or
/// found when the client the statement works for has gone away.
final class StatementInterruption: Sendable {
    private let requested = Atomic<Bool>(false)
    private let abandoned: (@Sendable () -> Bool)?

    init(abandoned: (@Sendable () -> Bool)?) {
        self.abandoned = abandoned
    }

    func request() {
        requested.store(true, ordering: .relaxed)
    }

    var isRequested: Bool {
        requested.load(ordering: .relaxed) || (abandoned?() ?? false)
    }
}

/// What the code calling the database knows about who waits for the answer.
public enum StatementScope {
    /// Set around a request's handling: true once its client is gone, so statements still running
    /// for it are cancelled instead of finishing for nobody.
    @TaskLocal public static var isAbandoned: (@Sendable () -> Bool)?
}
