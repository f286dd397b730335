import Foundation
import Postgres

/// A contact as stored, for the rules that read one (the primary flag, its customer);
/// `Contacts.table` stays the spec that writes and validates it, and `StoredRecord.body` the way
/// the API shows it.
public struct Contact: Sendable {
    /// Id, revision, custom fields and times.
    public let basics: RecordBasics
    public let customerID: UUID
    public let firstName: String
    public let lastName: String
    public let email: String
    public let phone: String?
    public let title: String?
    public let isPrimary: Bool
    public let active: Bool
    public let emailNotifications: Bool

    /// A contact from a row read with `Contacts.table`'s select list.
    public init(from row: Row) throws {
        basics = try RecordBasics(from: row)
        customerID = try row.decode("customer_id")
        firstName = try row.decode("first_name")
        lastName = try row.decode("last_name")
        email = try row.decode("email")
        phone = try row.decode("phone")
        title = try row.decode("title")
        isPrimary = try row.decode("is_primary")
        active = try row.decode("active")
        emailNotifications = try row.decode("email_notifications")
    }

    public var id: UUID { basics.id }
}
