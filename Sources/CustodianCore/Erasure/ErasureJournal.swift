import Foundation
import JSONText
import Postgres

/// The erasure journal: every erasure the database holds, kept outside it, so that restoring a
/// backup does not bring back the people erased since it was taken. It holds ids, times, the case
/// or policy, and the suppression hashes — no personal value — and is signed with a key derived
/// from the server's secret (`custodian erasures export`). `replay` re-applies, through the same
/// map-driven erasure, each erasure the restored database does not hold yet; run again, it does
/// nothing.
public struct ErasureJournal: Sendable {
    public static let format = "custodian-erasure-journal-1"

    /// One erasure: the records it erased, when, and why.
    public struct Entry: Sendable, Equatable {
        public let requestID: UUID?
        public let retentionPolicyID: UUID?
        /// The case's subject or the record the policy matched.
        public let subject: DataSubject
        public let erasedAt: Date
        public let erased: [DataSubject]
    }

    public struct Replay: Sendable {
        /// Erasures applied again.
        public var replayed = 0
        /// Erasures the database held already.
        public var present = 0
        /// Erasures that could not be applied, with why (a legal hold in force in the backup...).
        public var failed: [(entry: Entry, reason: String)] = []
    }

    public enum JournalError: Error, CustomStringConvertible {
        case unreadable(String)
        case badSignature

        public var description: String {
            switch self {
            case .unreadable(let why): "not an erasure journal: \(why)"
            case .badSignature: "the journal's signature does not match: it was changed, or signed with a key this server does not hold"
            }
        }
    }

    let database: PostgresPool
    let secrets: ServerSecrets

    public init(database: PostgresPool, secrets: ServerSecrets) {
        self.database = database
        self.secrets = secrets
    }

    /// The journal of every erasure (since `since`, when given), signed.
    public func export(since: Date? = nil) async throws -> JSONValue {
        let (entries, hashes) = try await database.transaction(isolation: .repeatableRead, readOnly: true) { transaction in
            let rows = try await transaction.query(
                """
                SELECT erasing_xact::text AS xact, min(erased_at) AS erased_at, (array_agg(request_id) FILTER (WHERE request_id IS NOT NULL))[1] AS request_id,
                       (array_agg(retention_policy_id) FILTER (WHERE retention_policy_id IS NOT NULL))[1] AS policy_id,
                       coalesce((array_agg(subject_type || ':' || subject_id ORDER BY counts = '{}', subject_type, subject_id))[1], '') AS subject,
                       array_to_json(array_agg(subject_type || ':' || subject_id ORDER BY subject_type, subject_id))::text AS erased
                FROM erasure_tombstones
                WHERE $1::timestamptz IS NULL OR erased_at >= $1
                GROUP BY erasing_xact ORDER BY min(erased_at), erasing_xact::text
                """, [since])
            let entries = try rows.map { row in
                let erased = try (JSONValue(json: try row.decode("erased", as: String.self))?.array ?? []).map {
                    try Self.subject($0.string ?? "")
                }
                return Entry(
                    requestID: try row.decode("request_id"), retentionPolicyID: try row.decode("policy_id"),
                    subject: try Self.subject(try row.decode("subject")), erasedAt: try row.decode("erased_at"), erased: erased)
            }
            let hashes = try await transaction.query(
                "SELECT encode(email_hash, 'hex') AS hash, key_id FROM erasure_suppressions ORDER BY email_hash"
            ).map { (hash: try $0.decode("hash", as: String.self), keyID: try $0.decode("key_id", as: String.self)) }
            return (entries, hashes)
        }
        var document: [String: JSONValue] = [
            "format": .string(Self.format),
            "exported_at": .timestamp(Date()),
            "since": .timestamp(since),
            "erasures": .array(
                entries.map { entry in
                    .object([
                        "request_id": .uuid(entry.requestID),
                        "retention_policy_id": .uuid(entry.retentionPolicyID),
                        "subject_type": .string(entry.subject.kind.rawValue),
                        "subject_id": .uuid(entry.subject.id),
                        "erased_at": .timestamp(entry.erasedAt),
                        "erased": .array(
                            entry.erased.map { .object(["subject_type": .string($0.kind.rawValue), "subject_id": .uuid($0.id)]) }),
                    ])
                }),
            "suppressions": .array(hashes.map { .object(["email_hash": .string($0.hash), "key_id": .string($0.keyID)]) }),
            "key_id": .string(secrets.current.keyID),
        ]
        document["signature"] = .string(Hex.encode(secrets.current.mac(Self.signed(document), for: .erasureJournal)))
        return .object(document)
    }

    /// What the signature covers: the document without it, with its keys sorted.
    static func signed(_ document: [String: JSONValue]) -> String {
        String(decoding: JSONValue.object(document.filter { $0.key != "signature" }).serialized(), as: UTF8.self)
    }

    static func subject(_ text: String) throws -> DataSubject {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, let kind = DataSubject.Kind(rawValue: parts[0]), let id = UUID(uuidString: parts[1]) else {
            throw JournalError.unreadable("a record is named \(text)")
        }
        return DataSubject(kind, id: id)
    }

    /// Checks the signature (with the key the journal names, current or retired) and reads it.
    public func read(_ document: JSONValue) throws -> (entries: [Entry], suppressions: [(hash: String, keyID: String)]) {
        guard let members = document.object, members["format"]?.string == Self.format else {
            throw JournalError.unreadable("the format is not \(Self.format)")
        }
        guard let keyID = members["key_id"]?.string, let signature = members["signature"]?.string,
            let secret = try? secrets.secret(withID: keyID),
            let given = Hex.decode(signature),
            Secret.constantTimeEqual(given, secret.mac(Self.signed(members), for: .erasureJournal))
        else { throw JournalError.badSignature }
        let entries = try (members["erasures"]?.array ?? []).map { item in
            guard let subjectID = item["subject_id"]?.string.flatMap(UUID.init(uuidString:)),
                let kind = item["subject_type"]?.string.flatMap(DataSubject.Kind.init(rawValue:)),
                let erasedAt = item["erased_at"]?.string.flatMap(RFC3339.date(from:))
            else { throw JournalError.unreadable("an erasure lacks its subject or time") }
            return Entry(
                requestID: item["request_id"]?.string.flatMap(UUID.init(uuidString:)),
                retentionPolicyID: item["retention_policy_id"]?.string.flatMap(UUID.init(uuidString:)),
                subject: DataSubject(kind, id: subjectID), erasedAt: erasedAt,
                erased: try (item["erased"]?.array ?? []).map { record in
                    try Self.subject("\(record["subject_type"]?.string ?? ""):\(record["subject_id"]?.string ?? "")")
                })
        }
        let suppressions = (members["suppressions"]?.array ?? []).compactMap { item -> (hash: String, keyID: String)? in
            guard let hash = item["email_hash"]?.string, hash.count == 64, let keyID = item["key_id"]?.string else { return nil }
            return (hash, keyID)
        }
        return (entries, suppressions)
    }

    /// Re-applies every erasure of the journal the database does not hold, oldest first, each in
    /// its own transaction, and the suppression hashes.
    public func replay(_ document: JSONValue) async throws -> Replay {
        let (entries, suppressions) = try read(document)
        var outcome = Replay()
        let actor = AuditActor(kind: .system, route: "erasure-journal replay")
        for entry in entries {
            do {
                let applied = try await actor.acting { try await replay(entry) }
                if applied { outcome.replayed += 1 } else { outcome.present += 1 }
            } catch {
                outcome.failed.append((entry, "\(error)"))
            }
        }
        if !suppressions.isEmpty {
            try await database.execute(
                """
                INSERT INTO erasure_suppressions (email_hash, key_id)
                SELECT decode(s.hash, 'hex'), s.key_id FROM unnest($1::text[], $2::text[]) AS s (hash, key_id)
                ON CONFLICT DO NOTHING
                """,
                [ArrayLiteral.texts(suppressions.map(\.hash)), ArrayLiteral.texts(suppressions.map(\.keyID))])
        }
        return outcome
    }

    /// One erasure again, unless every record it erased has its tombstone already; whether it
    /// erased anything.
    private func replay(_ entry: Entry) async throws -> Bool {
        try await database.transaction { transaction in
            let buried: Int = try await transaction.query(
                "SELECT count(DISTINCT subject_id) AS n FROM erasure_tombstones WHERE subject_id = ANY ($1::uuid[])",
                [ArrayLiteral.uuids(entry.erased.map(\.id))]
            ).single().decode("n")
            guard buried < entry.erased.count else { return false }
            // The records of the erasure the backup still holds, each with the rest of its person.
            var person = PersonRecords()
            for record in entry.erased {
                person.add(try await PersonRecords.lock(record, on: transaction))
            }
            let request = try await transaction.query("SELECT id FROM request_cases WHERE id = $1", [entry.requestID]).first
            let policy = try await transaction.query("SELECT id FROM retention_policies WHERE id = $1", [entry.retentionPolicyID]).first
            let reason = Erasures.Reason.replayed(request: try request?.decode("id"), policy: try policy?.decode("id"))
            _ = try await Erasures.eraseLocked(person, subject: entry.subject, reason: reason, by: nil, secrets: secrets, on: transaction)
            if let requestID = reason.requestID {
                // The restored case is where it was at the backup: it ends as the erasure ended it.
                try await transaction.execute(
                    """
                    WITH closed AS (
                        UPDATE request_cases SET status = 'completed', closed_at = coalesce(closed_at, $2)
                        WHERE id = $1 AND status IN ('received', 'in_progress') RETURNING id)
                    INSERT INTO request_events (case_id, actor_type, action, changes)
                    SELECT id, 'system', 'erased', '{"status": "completed", "replayed_from_journal": true}' FROM closed
                    """, [requestID, entry.erasedAt])
            }
            if let erasure = try await Erasures.erasure(reason, of: entry.subject, on: transaction) {
                try await Outbox.emit(.subjectErased, data: Erasures.eventData(erasure), subjectID: nil, on: transaction)
            }
            return true
        }
    }
}
