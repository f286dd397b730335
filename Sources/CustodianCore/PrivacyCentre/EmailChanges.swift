import Foundation
import JSONText
import Postgres

/// A person's new email address counts only once they confirm it through that address: whoever
/// holds their personal link or a portal session could otherwise point the record (and with it
/// password resets) at an address of their own. The new address is sent a confirmation link
/// (webhook `person.email_confirmation_requested`), the current one is told
/// (`person.email_change_requested`); the record changes when the link is used.
///
/// The token carries the change (the person, the new address, the record's revision when asked),
/// sealed; nothing waits in the database. It works once: confirming changes the record's
/// revision, and a token for an older revision is refused, as is one whose record changed in
/// any way meanwhile.
public struct EmailChanges: Sendable {
    let database: PostgresPool
    let secrets: ServerSecrets
    /// Confirmation links are this, `?token=`, and the token (the confirmation page).
    let linkBaseURL: String

    static let lifetime: TimeInterval = 24 * 3600

    public init(database: PostgresPool, secrets: ServerSecrets, linkBaseURL: String) {
        self.database = database
        self.secrets = secrets
        self.linkBaseURL = linkBaseURL
    }

    /// Where the confirmation went and until when it works.
    public struct Pending: Sendable {
        public let email: String
        public let expiresAt: Date
    }

    /// Asks the person to confirm `newEmail` for `subject`, whose record is at `revision` and has
    /// `currentEmail`; in the caller's transaction, so the mails go out only if it commits.
    func request(
        _ subject: Person, newEmail: String, currentEmail: String?, revision: Int64, on transaction: PostgresSession
    ) async throws -> Pending {
        let kind = subject.kind.resource
        let (token, expiresAt) = try ConfirmationToken.issue(
            .emailChange,
            body: .object([
                "subject_type": .string(kind), "subject_id": .uuid(subject.id), "email": .string(newEmail),
                "revision": .integer(Int(revision)),
            ]),
            lifetime: Self.lifetime, with: secrets)
        let data: [String: JSONValue] = [
            "subject_type": .string(kind), "subject_id": .uuid(subject.id), "expires_at": .timestamp(expiresAt),
        ]
        try await Outbox.emit(
            .emailConfirmationRequested, data: data,
            sealing: ["email": .string(newEmail), "token": .string(token), "link": .string("\(linkBaseURL)?token=\(token)")],
            with: secrets, subjectID: subject.id, on: transaction)
        if let currentEmail {
            try await Outbox.emit(
                .emailChangeRequested, data: data, sealing: ["email": .string(currentEmail)], with: secrets, subjectID: subject.id,
                on: transaction)
        }
        return Pending(email: newEmail, expiresAt: expiresAt)
    }

    /// Applies the change a token confirms; nil when the token is not one (unknown, expired, used,
    /// or its record changed since). A contact with a portal account has the new address as the
    /// one resets go to.
    public func confirm(token: String) async throws -> Person? {
        guard let body = ConfirmationToken.open(token, as: .emailChange, with: secrets),
            let kind = body["subject_type"]?.string.flatMap(Person.Kind.init(rawValue:)),
            let id = body["subject_id"]?.string.flatMap(UUID.init(uuidString:)),
            let email = body["email"]?.string,
            case .integer(let revision)? = body["revision"]
        else { return nil }
        let subject = Person(kind, id: id)
        let table = subject.kind.recordTable
        return try await database.transaction { transaction in
            do {
                // The record must be as it was when the change was asked for.
                _ = try await table.update(
                    id: id, [("email", .text(email))], customFields: nil, expectedRevision: Int64(revision), by: nil, in: transaction)
            } catch DomainError.stale, DomainError.notFound {
                return nil
            }
            if subject.kind == .contact {
                try await transaction.execute(
                    "UPDATE portal_accounts SET confirmed_email = $2 WHERE contact_id = $1 AND password_hash IS NOT NULL", [id, email])
            }
            return subject
        }
    }
}
