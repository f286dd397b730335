import Foundation
import Postgres

/// A lead as stored, for the rules that read one (conversion, and what reaches a person next);
/// `Leads.table` stays the spec that writes and validates it, and `StoredRecord.body` the way
/// the API shows it.
public struct Lead: Sendable {
    /// Id, revision, custom fields and times.
    public let basics: RecordBasics
    public let name: String
    public let company: String?
    public let title: String?
    public let email: String?
    public let phone: String?
    public let website: String?
    public let street: String?
    public let city: String?
    public let state: String?
    public let zip: String?
    public let country: String?
    public let status: String
    public let source: String?
    public let assigneeID: UUID?
    public let description: String?
    public let lastContactedAt: Date?
    public let convertedCustomerID: UUID?
    public let convertedContactID: UUID?
    public let convertedAt: Date?

    /// A lead from a row read with `Leads.table`'s select list.
    public init(from row: Row) throws {
        basics = try RecordBasics(from: row)
        name = try row.decode("name")
        company = try row.decode("company")
        title = try row.decode("title")
        email = try row.decode("email")
        phone = try row.decode("phone")
        website = try row.decode("website")
        street = try row.decode("street")
        city = try row.decode("city")
        state = try row.decode("state")
        zip = try row.decode("zip")
        country = try row.decode("country")
        status = try row.decode("status")
        source = try row.decode("source")
        assigneeID = try row.decode("assignee_id")
        description = try row.decode("description")
        lastContactedAt = try row.decode("last_contacted_at")
        convertedCustomerID = try row.decode("converted_customer_id")
        convertedContactID = try row.decode("converted_contact_id")
        convertedAt = try row.decode("converted_at")
    }

    public var id: UUID { basics.id }
}
