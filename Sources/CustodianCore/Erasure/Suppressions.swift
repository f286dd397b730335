import Foundation
import JSONText
import Postgres

/// Erased people's email addresses, kept only as keyed hashes (HMAC-SHA256 with the server's
/// secret key): staff who enter one again for a lead or contact are told the person was erased.
/// Public forms do not ask, so the person can always come back of their own accord.
public struct Suppressions: Sendable {
    let database: PostgresPool
    let secrets: ServerSecrets

    public init(database: PostgresPool, secrets: ServerSecrets) {
        self.database = database
        self.secrets = secrets
    }

    /// Refuses a lead or contact write that sets an erased person's email.
    public func refuse(_ values: ColumnValues, of table: RecordTable) async throws {
        for spec in table.columns where spec.kind == .email {
            guard case .text(let email)? = values.first(where: { $0.column == spec.name })?.value else { continue }
            if try await isSuppressed(email) { throw DomainError.erasedPerson(field: spec.name) }
        }
    }

    public func isSuppressed(_ email: String) async throws -> Bool {
        // Hashes under every key, derived and (for entries made before keys were derived) legacy:
        // entries keyed before a rotation or an upgrade still match.
        let hashes = secrets.all.flatMap { [Self.hash(email, with: $0), Self.legacyHash(email, with: $0)] }
        let placeholders = hashes.indices.map { "$\($0 + 1)" }.joined(separator: ", ")
        return try await !database.query(
            "SELECT 1 FROM erasure_suppressions WHERE email_hash IN (\(placeholders))", hashes.map { $0 as any PostgresBindable }
        ).isEmpty
    }

    static func hash(_ email: String, with secret: ServerSecret) -> [UInt8] {
        secret.mac(normalized(email), for: .suppressionHash)
    }

    static func legacyHash(_ email: String, with secret: ServerSecret) -> [UInt8] {
        secret.legacyMac(normalized(email))
    }

    private static func normalized(_ email: String) -> String {
        "email:" + email.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }

    /// The email addresses of the erased person's records, from the columns the API treats as emails.
    static func emails(of person: PersonRecords, on session: some Queryable) async throws -> Set<String> {
        var emails: Set<String> = []
        for (table, parameter) in [(Leads.table, "$1"), (Contacts.table, "$2")] {
            for spec in table.columns where spec.kind == .email {
                let column = PersonalDataMap.quoted(spec.name)
                let rows = try await session.query(
                    PersonRecords.parameterTypes
                        + "SELECT \(column) AS email FROM \(PersonalDataMap.quoted(table.table)) WHERE id = ANY (\(parameter)::uuid[]) AND \(column) IS NOT NULL",
                    person.parameters
                )
                for row in rows { emails.insert(try row.decode("email", as: String.self).lowercased()) }
            }
        }
        return emails
    }

    static func record(_ emails: Set<String>, with secret: ServerSecret, on transaction: PostgresSession) async throws {
        guard !emails.isEmpty else { return }
        let hashes = emails.sorted().map { Hex.encode(Self.hash($0, with: secret)) }
        try await transaction.execute(
            """
            INSERT INTO erasure_suppressions (email_hash, key_id)
            SELECT decode(hash, 'hex'), $2 FROM unnest($1::text[]) AS hash
            ON CONFLICT DO NOTHING
            """,
            ["{" + hashes.joined(separator: ",") + "}", secret.keyID]
        )
    }
}
