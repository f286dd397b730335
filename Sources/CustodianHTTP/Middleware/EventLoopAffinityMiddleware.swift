import Hummingbird
import NIOCore
import Synchronization

/// Runs each request's handler on the event loop of the connection it came on.
///
/// Without a preference, work that resumes from another thread (a database answer noticed by
/// the socket waiter's thread) lands on whichever event loop is next, and the response then has
/// to hop back to the connection's loop: two thread wake-ups per statement instead of one.
struct EventLoopAffinityMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    private let executors = EventLoopExecutors()

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // An in-process test client's channel has a loop that runs work only when told to.
        guard context.channel.isActive else { return try await next(request, context) }
        return try await withTaskExecutorPreference(executors.executor(for: context.channel.eventLoop)) {
            try await next(request, context)
        }
    }
}

/// One task executor per event loop, made on first use; a server has as many loops as cores.
final class EventLoopExecutors: Sendable {
    private let byLoop = Mutex<[ObjectIdentifier: EventLoopTaskExecutor]>([:])

    func executor(for loop: any EventLoop) -> EventLoopTaskExecutor {
        let key = ObjectIdentifier(loop)
        return byLoop.withLock { executors in
            if let known = executors[key] { return known }
            let made = EventLoopTaskExecutor(loop: loop)
            executors[key] = made
            return made
        }
    }
}

/// Swift concurrency jobs run as event-loop tasks.
final class EventLoopTaskExecutor: TaskExecutor {
    let loop: any EventLoop

    init(loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
