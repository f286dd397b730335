import CustodianCore
import CustodianHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

@Suite("Erasure follows the map: what a later migration adds is erased without new code")
struct ErasureMapTests {
    /// A personal column on contacts, a table of the contact's aliases (whose rows must go before
    /// the contact's), and an invoice email on customers kept only while invoices are open.
    static let laterMigration = """
        ALTER TABLE contacts ADD COLUMN nickname text;
        ALTER TABLE customers ADD COLUMN invoice_email text, ADD COLUMN open_invoices integer NOT NULL DEFAULT 0;
        CREATE TABLE contact_aliases (
            id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            contact_id  uuid NOT NULL REFERENCES contacts (id),
            alias       text NOT NULL
        );
        INSERT INTO api_privileges (table_name, privileges, reason) VALUES
            ('contact_aliases', '{SELECT,INSERT,DELETE}', 'a test''s later table');
        INSERT INTO personal_data_owners (table_name, subject, owner_column) VALUES ('contact_aliases', 'contact', 'contact_id');
        INSERT INTO personal_data_map (table_name, column_name, category, subject, erasure, legal_basis, keep_condition) VALUES
            ('contacts', 'nickname', 'name', 'contact', 'delete_row', NULL, NULL),
            ('customers', 'invoice_email', 'contact_data', 'customer', 'keep', 'kept while invoices are open', 'open_invoices > 0'),
            ('customers', 'open_invoices', 'not_personal', NULL, 'none', NULL, NULL),
            ('contact_aliases', 'id', 'not_personal', NULL, 'none', NULL, NULL),
            ('contact_aliases', 'contact_id', 'identifier', 'contact', 'delete_row', NULL, NULL),
            ('contact_aliases', 'alias', 'name', 'contact', 'delete_row', NULL, NULL);
        """

    @Test func aColumnAndATableAddedLaterAreErasedAndAKeepConditionIsHonoured() async throws {
        try await StaffFixture.withApp { fixture, client in
            try await fixture.database.applyMigration(version: 9001, name: "later_personal_data", sql: Self.laterMigration)
            let admin = fixture.adminKey
            let r = UUID().uuidString.prefix(8).lowercased()
            var customers: [String: String] = [:]
            try await fixture.database.withPool(role: .owner) { owner in
                for (name, openInvoices) in [("settled", 0), ("owing", 2)] {
                    let customer = try #require(
                        try await client.create("/v1/customers", key: admin, #"{"company": "\#(name) \#(r)"}"#)["id"] as? String)
                    let contact = try #require(
                        try await client.create(
                            "/v1/contacts", key: admin,
                            #"{"customer_id": "\#(customer)", "first_name": "Kim", "last_name": "\#(name)", "email": "\#(name)-\#(r)@map.example"}"#
                        )["id"] as? String)
                    try await owner.execute(
                        "UPDATE customers SET invoice_email = $2, open_invoices = $3 WHERE id = $1::uuid",
                        [customer, "invoices-\(name)-\(r)@map.example", openInvoices])
                    try await owner.execute("UPDATE contacts SET nickname = $2 WHERE id = $1::uuid", [contact, "nick-\(name)-\(r)"])
                    for alias in ["alias-one-\(name)-\(r)", "alias-two-\(name)-\(r)"] {
                        try await owner.execute("INSERT INTO contact_aliases (contact_id, alias) VALUES ($1::uuid, $2)", [contact, alias])
                    }
                    customers[name] = customer
                }
            }
            for (name, customer) in customers.sorted(by: { $0.key < $1.key }) {
                let erasure = try await client.openErasure(subjectType: "customer", subjectID: customer, key: admin)
                try await client.startErasure(erasure, key: admin)
                let plan = try await client.send(.get, "/v1/requests/\(erasure)/erasure-plan", headers: headers(key: admin)).json()
                let tables = plan["tables"] as? [[String: Any]] ?? []
                let aliases = tables.first { $0["table"] as? String == "contact_aliases" }
                #expect(aliases?["action"] as? String == "deleted" && aliases?["rows"] as? Int == 2, "\(name)")
                let names = tables.compactMap { $0["table"] as? String }
                #expect(
                    (names.firstIndex(of: "contact_aliases") ?? .max) < (names.firstIndex(of: "contacts") ?? .min),
                    "a table's rows go before the rows they reference")
                let customerColumns = tables.first { $0["table"] as? String == "customers" }?["columns"] as? [[String: Any]] ?? []
                let invoiceEmail = customerColumns.filter { $0["column"] as? String == "invoice_email" && $0["values"] as? Int == 1 }
                #expect(invoiceEmail.count == 1)
                #expect(invoiceEmail.first?["action"] as? String == (name == "owing" ? "kept" : "cleared"), "\(name)")
                if name == "owing" { #expect(invoiceEmail.first?["keep_condition"] as? String == "open_invoices > 0") }

                let erased = try await client.send(.post, "/v1/requests/\(erasure)/erase", headers: headers(key: admin))
                #expect(erased.status == .ok, "\(erased.text)")
            }
            try await fixture.database.withPool { inspector in
                let gone = try await DatabaseInspection.occurrences(
                    of: [
                        "nick-settled-\(r)", "nick-owing-\(r)", "alias-one-settled-\(r)", "alias-two-owing-\(r)", "invoices-settled-\(r)",
                    ],
                    in: inspector)
                #expect(gone == [])
                let kept = try await DatabaseInspection.occurrences(of: ["invoices-owing-\(r)"], in: inspector)
                #expect(kept == ["customers.invoice_email holds invoices-owing-\(r)"])
            }
        }
    }
}
