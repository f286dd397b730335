import Foundation
import Logging
import Postgres

/// Running retention policies: each person a policy matches and nothing exempts is erased in
/// their own transaction, through the same map-driven erasure as an erasure case, with
/// tombstones whose reason is the policy and `subject.erased` to webhooks. Under the person's
/// locks the match is checked again, so a note added or a hold placed since the preview wins.
public struct RetentionRuns: Sendable {
    let database: PostgresPool
    let secrets: ServerSecrets
    let logger: Logger

    /// How often housekeeping runs each active policy.
    public static let interval = "1 hour"

    public init(database: PostgresPool, secrets: ServerSecrets, logger: Logger) {
        self.database = database
        self.secrets = secrets
        self.logger = logger
    }

    public struct Outcome: Sendable {
        public let policyID: UUID
        /// The people erased (or, in a dry run, those that would be).
        public var erased: [DataSubject] = []
        /// Matched but exempt (a legal hold, an open case, a restriction).
        public var exempt = 0
        /// Whose erasure failed (their data changed meanwhile, a hold came): tried again next run.
        public var failed = 0
    }

    /// Runs one policy: erases up to `limit` people it matches now (none when `dryRun`).
    public func run(_ policyID: UUID, dryRun: Bool = false, limit: Int = 1000) async throws -> Outcome {
        let policy = try await RetentionPolicies.find(policyID, on: database)
        var outcome = Outcome(policyID: policy.id)
        var after: UUID?
        let actor = AuditActor(kind: .system, route: "retention", requestID: "retention-policy:\(policy.id.lowercasedString)")
        repeat {
            let page = try await RetentionPreview.page(policy, after: after, limit: 500, on: database)
            for match in page.matches where outcome.erased.count < limit {
                guard match.exemption == nil else {
                    outcome.exempt += 1
                    continue
                }
                if dryRun {
                    outcome.erased.append(match.subject)
                    continue
                }
                do {
                    if try await actor.acting({ try await erase(match.subject, by: policy) }) {
                        outcome.erased.append(match.subject)
                    }
                } catch {
                    outcome.failed += 1
                    logger.warning("retention erasure failed", metadata: ["policy": "\(policy.id)", "error": "\(error)"])
                }
            }
            after = page.nextAfter
        } while after != nil && outcome.erased.count < limit
        return outcome
    }

    /// Erases one matched person if they still match and nothing exempts them; whether it did.
    private func erase(_ subject: DataSubject, by policy: RetentionPolicies.Policy) async throws -> Bool {
        try await database.transaction { transaction in
            let person = try await PersonRecords.lock(subject, on: transaction)
            let again = try await RetentionPreview.page(policy, after: nil, limit: 1, only: subject.id, on: transaction)
            guard let match = again.matches.first, match.exemption == nil else { return false }
            _ = try await Erasures.eraseLocked(
                person, subject: subject, reason: .policy(policy.id), by: nil, secrets: secrets, on: transaction)
            guard let erasure = try await Erasures.erasure(.policy(policy.id), of: subject, on: transaction) else {
                throw DomainError.conflict("the erasure left no tombstone")
            }
            try await Outbox.emit(.subjectErased, data: Erasures.eventData(erasure), subjectID: nil, on: transaction)
            return true
        }
    }

    /// Housekeeping: runs each active policy not run within the interval, claimed so that two
    /// instances never run the same one at once; how many people were erased.
    @Sendable public func runDue() async throws -> Int {
        var erased = 0
        while let row = try await database.query(
            """
            UPDATE retention_policies SET last_run_at = now()
            WHERE id = (SELECT id FROM retention_policies
                        WHERE active AND (last_run_at IS NULL OR last_run_at < now() - interval '\(Self.interval)')
                        ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING id
            """
        ).first {
            erased += try await run(try row.decode("id")).erased.count
        }
        return erased
    }
}
