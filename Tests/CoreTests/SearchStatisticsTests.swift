import Foundation
import Postgres
import TestSupport
import Testing

@testable import CustodianCore

/// The database tells how common each trigram of the search texts is (migration 0037), and a
/// search that leaves common ones out of what it asks the index finds exactly what the whole text finds.
@Suite("Search by the parts of q the index reads cheaply")
struct SearchStatisticsTests {
    @Test func commonTrigramsComeFromStatisticsAndPartsFindWhatTheWholeTextFinds() async throws {
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool(role: .owner) { owner in
                // Every demo contact's email is "contact<n>.<batch>@example.com".
                _ = try await DemoData(database: owner).seed(contacts: 3_000, leads: 30)
                try await owner.execute(
                    "UPDATE contacts SET last_name = 'Zoë Müller-Lüdenscheidt 100%_\\' WHERE email LIKE 'contact42%' OR email LIKE 'contact7.%'"
                )
                try await owner.execute("ANALYZE contacts, leads, customers")
            }
            try await database.withPool(role: .api) { api in
                let frequencies = try await SearchTrigramStatistics(table: "contacts").frequencies(on: api)
                #expect(["con", "ont", "nta", "tac", "act"].allSatisfy { frequencies.of($0) == 1 }, "\(frequencies.listed)")
                #expect(frequencies.of("t42") < 0.05)
                let notSearched = try await api.query("SELECT * FROM public.search_trigram_frequencies('staff')")
                #expect(notSearched.isEmpty)

                let table = Contacts.table
                var askedInParts: [String] = []
                // (text, whether some contact has it)
                let searches: [(String, Bool)] = [
                    ("contact42.", true), ("CONTACT42", true), (" contact4", true), ("ontact7.", true), ("contact", true),
                    ("act42", true), ("müller-lüd", true), ("zoe m", true), ("100%_\\", true), ("ada", true),
                    ("contact42%", false), ("contact1 ", false), ("tact7.x", false),
                ]
                for (search, someHaveIt) in searches {
                    if SearchIndexParts.parts(of: search, frequencies: frequencies) != nil { askedInParts.append(search) }
                    var parameters: [any PostgresBindable] = []
                    let conditions = table.searchConditions(search, trigramFrequencies: frequencies) { value in
                        parameters.append(value)
                        return "$\(parameters.count)"
                    }
                    let found = try await api.query(
                        "SELECT id FROM contacts WHERE \(conditions.joined(separator: " AND ")) ORDER BY id", parameters
                    ).map { try $0.decode("id", as: UUID.self) }
                    // A plain substring test, without LIKE or an index.
                    let expected = try await api.query(
                        "SELECT id FROM contacts WHERE strpos(\(table.searchText), search_text($1)) > 0 ORDER BY id", [search]
                    ).map { try $0.decode("id", as: UUID.self) }
                    #expect(found == expected, "\(search)")
                    #expect(expected.isEmpty != someHaveIt, "\(search)")
                }
                #expect(askedInParts.count >= 4, "\(askedInParts), rarest listed \(frequencies.unlisted)")
            }
        }
    }
}
