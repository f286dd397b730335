import Foundation
import Postgres

/// Customers: the companies the CRM works with. Deleting one deletes its contacts and notes.
public enum Customers {
    public static let table = RecordTable(
        table: "customers",
        resource: "customer",
        columns: [
            ColumnSpec("company", .text(maxLength: 200), required: true, nullable: false),
            ColumnSpec("vat_number", .text(maxLength: 50)),
            ColumnSpec("phone", .text(maxLength: 50)),
            ColumnSpec("website", .text(maxLength: 500)),
            ColumnSpec("billing_street", .multilineText(maxLength: 500)),
            ColumnSpec("billing_city", .text(maxLength: 100)),
            ColumnSpec("billing_state", .text(maxLength: 100)),
            ColumnSpec("billing_zip", .text(maxLength: 20)),
            ColumnSpec("billing_country", .countryCode),
            ColumnSpec("shipping_street", .multilineText(maxLength: 500)),
            ColumnSpec("shipping_city", .text(maxLength: 100)),
            ColumnSpec("shipping_state", .text(maxLength: 100)),
            ColumnSpec("shipping_zip", .text(maxLength: 20)),
            ColumnSpec("shipping_country", .countryCode),
            ColumnSpec("country", .countryCode),
            ColumnSpec("active", .boolean, nullable: false),
        ],
        searchColumns: ["company"],
        uniqueFields: [:],
        deletionCheck: { id, transaction in try await PersonHistory.refuseDeletion(of: DataSubject(.customer, id: id), on: transaction) }
    )
}
