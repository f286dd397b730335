import Foundation
import Logging
import Postgres

/// Applies migration files in order, each in its own transaction, recording them in `schema_migrations`.
///
/// Runners take a PostgreSQL advisory lock first, so any number of instances may run `migrate` at
/// once: one applies, the others wait and then find nothing left to do.
public struct Migrator: Sendable {
    /// The advisory lock key all Custodian migration runners agree on.
    static let lockKey: Int64 = 0x6375_7374_6f64_6e // "custodn"

    public let files: [MigrationFile]
    let pool: PostgresPool
    let logger: Logger
    /// The role the API connects as; `migrate` grants it what `api_privileges` lists.
    let apiRole: APIRole?

    public init(pool: PostgresPool, files: [MigrationFile], logger: Logger, apiRole: APIRole? = nil) {
        self.pool = pool
        self.files = files
        self.logger = logger
        self.apiRole = apiRole
    }

    /// Every file with whether it was applied, plus applied versions the files no longer know.
    public func status() async throws -> MigrationStatus {
        try await pool.withConnection { session in
            try await ensureHistoryTable(session)
            return try await status(session)
        }
    }

    /// Applies the pending migrations and returns them, then grants the API role its privileges
    /// (every time: grants are state, not history); throws before applying anything when an
    /// applied file was changed.
    @discardableResult
    public func migrate() async throws -> [MigrationFile] {
        try await pool.withConnection { session in
            _ = try await session.query("SELECT pg_advisory_lock($1)", [Self.lockKey])
            do {
                let applied = try await applyPending(session)
                try await apiRole?.grantPrivileges(on: session)
                _ = try await session.query("SELECT pg_advisory_unlock($1)", [Self.lockKey])
                return applied
            } catch {
                // A broken connection has released the session lock already.
                _ = try? await session.query("SELECT pg_advisory_unlock($1)", [Self.lockKey])
                throw error
            }
        }
    }

    private func applyPending(_ session: PostgresSession) async throws -> [MigrationFile] {
        try await ensureHistoryTable(session)
        let current = try await status(session)
        if let changed = current.changed.first { throw changed }
        var applied: [MigrationFile] = []
        for file in current.pending {
            let started = ContinuousClock.now
            do {
                try await session.transaction { transaction in
                    try await transaction.executeScript(file.sql)
                    try await transaction.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                        [file.version, file.name, file.checksum]
                    )
                }
            } catch {
                // For the operator: the server's message names what failed; its DETAIL (row values) stays out.
                let reason = (error as? PostgresError).map { "\($0.sqlState ?? "?") \($0.message)" } ?? "\(error)"
                throw MigrationError.failed(version: file.version, name: file.name, reason: reason)
            }
            logger.info(
                "applied migration",
                metadata: ["migration": "\(file.fileName)", "duration": "\(ContinuousClock.now - started)"]
            )
            applied.append(file)
        }
        return applied
    }

    private func ensureHistoryTable(_ session: PostgresSession) async throws {
        // IF NOT EXISTS alone races between two first runners; status() may run without the lock.
        let exists = try await session.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS present")
        if try exists.single().decode("present", as: Bool.self) { return }
        do {
            try await session.executeScript(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    bigint PRIMARY KEY,
                    name       text NOT NULL,
                    checksum   text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """
            )
        } catch let error as PostgresError where error.kind == .uniqueViolation {
            // Another runner created it between our check and our CREATE.
        }
    }

    private func status(_ session: PostgresSession) async throws -> MigrationStatus {
        let rows = try await session.query("SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version")
        var appliedByVersion: [Int64: MigrationStatus.Applied] = [:]
        for row in rows {
            let record = MigrationStatus.Applied(
                version: try row.decode("version"),
                name: try row.decode("name"),
                checksum: try row.decode("checksum"),
                appliedAt: try row.decode("applied_at")
            )
            appliedByVersion[record.version] = record
        }
        var entries: [MigrationStatus.Entry] = []
        for file in files {
            entries.append(.init(file: file, applied: appliedByVersion.removeValue(forKey: file.version)))
        }
        return MigrationStatus(entries: entries, unknownApplied: appliedByVersion.values.sorted { $0.version < $1.version })
    }
}

/// What the database has applied, compared with the files at hand.
public struct MigrationStatus: Sendable {
    public struct Applied: Sendable, Equatable {
        public let version: Int64
        public let name: String
        public let checksum: String
        public let appliedAt: Date
    }

    public struct Entry: Sendable {
        public let file: MigrationFile
        public let applied: Applied?

        public var isChanged: Bool { applied.map { $0.checksum != file.checksum } ?? false }
    }

    public let entries: [Entry]
    /// Versions recorded as applied that no file describes (a newer release ran against this database).
    public let unknownApplied: [Applied]

    public var pending: [MigrationFile] { entries.filter { $0.applied == nil }.map(\.file) }

    public var changed: [MigrationError] {
        entries.compactMap { entry in
            guard let applied = entry.applied, entry.isChanged else { return nil }
            return .checksumMismatch(
                version: entry.file.version,
                name: entry.file.name,
                applied: applied.checksum,
                file: entry.file.checksum
            )
        }
    }

    /// Whether the schema matches the files exactly: nothing pending, nothing edited.
    public var isCurrent: Bool { pending.isEmpty && changed.isEmpty }
}
