import CustodianCore
import Synchronization

/// Who acted in a request, for its access log line: only the handler learns it (a key, a
/// session, a link), and the log line is written outside it. `AccessLogMiddleware` puts one in
/// the context; whatever makes an audit actor notes its kind there, the innermost last.
final class RequestActor: Sendable {
    private static let kinds = AuditActor.Kind.allCases
    private let noted = Atomic<Int>(-1)

    func note(_ kind: AuditActor.Kind) {
        noted.store(Self.kinds.firstIndex(of: kind) ?? -1, ordering: .relaxed)
    }

    /// The noted kind's name, or `none` for a request nobody was authenticated for.
    var kind: String {
        let index = noted.load(ordering: .relaxed)
        return Self.kinds.indices.contains(index) ? Self.kinds[index].rawValue : "none"
    }
}
