import Logging
import ServiceLifecycle

/// Periodic clean-up the server does on the side (old rate-limit windows, expired idempotency
/// keys). Every instance runs it; each job is safe to run on several at once.
public struct Housekeeping: Service {
    public struct Job: Sendable {
        let name: String
        let work: @Sendable () async throws -> Int

        public init(name: String, work: @escaping @Sendable () async throws -> Int) {
            self.name = name
            self.work = work
        }
    }

    let jobs: [Job]
    let interval: Duration
    let logger: Logger

    public init(jobs: [Job], interval: Duration = .seconds(60), logger: Logger) {
        self.jobs = jobs
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            await runOnce()
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return
            }
        }
    }

    /// Runs every job once; a failing job (the database is away) is logged and tried next time.
    public func runOnce() async {
        for job in jobs {
            do {
                let removed = try await job.work()
                if removed > 0 { logger.debug("housekeeping", metadata: ["job": "\(job.name)", "removed": "\(removed)"]) }
            } catch {
                logger.warning("housekeeping failed", metadata: ["job": "\(job.name)", "error": "\(error)"])
            }
        }
    }
}
