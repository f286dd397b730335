import CLibPQ
import Foundation
import Synchronization

#if os(Linux)
    import Glibc
#else
    #error("Custodian runs on Linux: this waiter is built on epoll and eventfd")
#endif

/// Waits, on one thread of its own, for libpq sockets to become ready, and resumes whoever waits.
///
/// A statement is sent and its result read by the task that runs it (libpq in non-blocking mode
/// never blocks), and only the wait for an answer that is not there yet comes here (the task
/// first lets its event loop's queued work run and looks again, which under load usually finds
/// the answer): per wait one epoll wake-up of this thread, shared by every socket ready at once,
/// instead of waking a pool thread to send and waking it again when the answer came. Waiters
/// with an interruption are checked every 50 ms and resumed as interrupted when it is requested,
/// so that the statement's owner can cancel it on the server.
final class SocketWaiter: Sendable {
    enum Readiness: Sendable, Equatable {
        case ready
        case interrupted
        case failed(errno: Int32)
    }

    /// The one waiter of the process: one thread for every pool.
    static let shared = SocketWaiter()

    private struct Waiter {
        let continuation: CheckedContinuation<Readiness, Never>
        let interruption: StatementInterruption?
    }

    private let epoll: Int32
    /// Written to wake the thread at once (a task cancelled), rather than at its next 50 ms check.
    private let wakeup: Int32
    private let waiters = Mutex<[Int32: Waiter]>([:])
    static let interruptionCheckMilliseconds: Int32 = 50

    private init() {
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        wakeup = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        precondition(epoll >= 0 && wakeup >= 0, "epoll or eventfd unavailable (errno \(errno))")
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.fd = wakeup
        precondition(epoll_ctl(epoll, EPOLL_CTL_ADD, wakeup, &event) == 0, "epoll_ctl failed (errno \(errno))")
        let thread = Thread { [self] in run() }
        thread.name = "postgres-sockets"
        thread.start()
    }

    /// Suspends until `socket` can be read (or written, with `forWriting`), or the interruption is
    /// requested. Readiness may be spurious: the caller checks its connection and waits again.
    func wait(for socket: Int32, forWriting: Bool = false, interruption: StatementInterruption?) async -> Readiness {
        await withCheckedContinuation { continuation in
            waiters.withLock { $0[socket] = Waiter(continuation: continuation, interruption: interruption) }
            var event = epoll_event()
            // Waiting to write, the server's own messages must still be read (libpq's rule).
            event.events = (forWriting ? EPOLLOUT.rawValue | EPOLLIN.rawValue : EPOLLIN.rawValue) | EPOLLONESHOT.rawValue
            event.data.fd = socket
            // One-shot: armed again for every wait. A socket of a closed connection leaves the set
            // by itself, and a new connection may get the same number: then MOD fails and ADD works.
            var armed = epoll_ctl(epoll, EPOLL_CTL_MOD, socket, &event) == 0
            if !armed && errno == ENOENT { armed = epoll_ctl(epoll, EPOLL_CTL_ADD, socket, &event) == 0 }
            if !armed {
                let failure = errno
                if let waiter = waiters.withLock({ $0.removeValue(forKey: socket) }) {
                    waiter.continuation.resume(returning: .failed(errno: failure))
                }
            }
        }
    }

    /// Makes the thread check interruptions now.
    func wake() {
        var one: UInt64 = 1
        _ = Glibc.write(wakeup, &one, MemoryLayout<UInt64>.size)
    }

    private func run() {
        var events = [epoll_event](repeating: epoll_event(), count: 64)
        var lastCheck = ContinuousClock.now
        while true {
            // Never without a timeout: a client that goes away is noticed only by looking.
            let ready = epoll_wait(epoll, &events, Int32(events.count), Self.interruptionCheckMilliseconds)
            if ready < 0 && errno != EINTR { continue }
            var woken = false
            for index in 0..<max(0, Int(ready)) {
                let socket = events[index].data.fd
                if socket == wakeup {
                    var count: UInt64 = 0
                    _ = Glibc.read(wakeup, &count, MemoryLayout<UInt64>.size)
                    woken = true
                    continue
                }
                if let waiter = waiters.withLock({ $0.removeValue(forKey: socket) }) {
                    waiter.continuation.resume(returning: .ready)
                }
            }
            // Under load the thread wakes thousands of times a second; looking every 50 ms is enough.
            let now = ContinuousClock.now
            guard woken || now - lastCheck >= .milliseconds(Int(Self.interruptionCheckMilliseconds)) else { continue }
            lastCheck = now
            let interrupted = waiters.withLock { waiters -> [Waiter] in
                let sockets = waiters.filter { $0.value.interruption?.isRequested ?? false }.map(\.key)
                return sockets.compactMap { waiters.removeValue(forKey: $0) }
            }
            for waiter in interrupted { waiter.continuation.resume(returning: .interrupted) }
        }
    }
}
