import Foundation
import Postgres

/// A customer (a company) as stored, for the rules that read one; `Customers.table` stays the
/// spec that writes and validates it, and `StoredRecord.body` the way the API shows it.
public struct Customer: Sendable {
    /// Id, revision, custom fields and times.
    public let basics: RecordBasics
    public let company: String
    public let vatNumber: String?
    public let phone: String?
    public let website: String?
    public let billingStreet: String?
    public let billingCity: String?
    public let billingState: String?
    public let billingZip: String?
    public let billingCountry: String?
    public let shippingStreet: String?
    public let shippingCity: String?
    public let shippingState: String?
    public let shippingZip: String?
    public let shippingCountry: String?
    public let country: String?
    public let active: Bool

    /// A customer from a row read with `Customers.table`'s select list.
    public init(from row: Row) throws {
        basics = try RecordBasics(from: row)
        company = try row.decode("company")
        vatNumber = try row.decode("vat_number")
        phone = try row.decode("phone")
        website = try row.decode("website")
        billingStreet = try row.decode("billing_street")
        billingCity = try row.decode("billing_city")
        billingState = try row.decode("billing_state")
        billingZip = try row.decode("billing_zip")
        billingCountry = try row.decode("billing_country")
        shippingStreet = try row.decode("shipping_street")
        shippingCity = try row.decode("shipping_city")
        shippingState = try row.decode("shipping_state")
        shippingZip = try row.decode("shipping_zip")
        shippingCountry = try row.decode("shipping_country")
        country = try row.decode("country")
        active = try row.decode("active")
    }

    public var id: UUID { basics.id }
}
