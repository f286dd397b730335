import Foundation
import JSONText
import Postgres

/// A contact as stored, for the rules that read one (the primary flag, its customer);
/// `Contacts.table` stays the spec that writes and validates it, and `StoredRecord.body` the way
/// the API shows it.
public struct Contact: Sendable {
    public let id: UUID
    public let revision: Int64
    public let customerID: UUID
    public let firstName: String
    public let lastName: String
    public let email: String
    public let phone: String?
    public let title: String?
    public let isPrimary: Bool
    public let active: Bool
    public let emailNotifications: Bool
    public let customFields: JSONValue
    public let createdAt: Date
    public let updatedAt: Date

    /// A contact from a row read with `Contacts.table`'s select list.
    public init(from row: Row) throws {
        id = try row.decode("id")
        revision = try row.decode("revision")
        customerID = try row.decode("customer_id")
        firstName = try row.decode("first_name")
        lastName = try row.decode("last_name")
        email = try row.decode("email")
        phone = try row.decode("phone")
        title = try row.decode("title")
        isPrimary = try row.decode("is_primary")
        active = try row.decode("active")
        emailNotifications = try row.decode("email_notifications")
        customFields = try row.decode("custom_fields")
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
    }
}
