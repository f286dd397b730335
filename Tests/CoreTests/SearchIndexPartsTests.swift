import Testing

@testable import CustodianCore

@Suite("q asks the trigram index for its parts without the trigrams many records share")
struct SearchIndexPartsTests {
    /// What ANALYZE finds when every contact's email starts with "contact": its trigrams in every
    /// record, one a tenth of them have, the rarest listed in one of a thousand.
    static let contactEmails = TrigramFrequencies(
        listed: ["  c": 1, " co": 1, "con": 1, "ont": 1, "nta": 1, "tac": 1, "act": 1, "ct ": 1, "ct4": 0.11, "gra": 0.1, "zzz": 0.001]
    )

    @Test func aRareTailOfACommonWordIsAskedForAlone() {
        #expect(SearchIndexParts.parts(of: "contact4242.", frequencies: Self.contactEmails) == ["t4242."])
        #expect(SearchIndexParts.parts(of: "Contact4242", frequencies: Self.contactEmails) == ["t4242"])
        // "  c" and " co" pad the word after the dot: they are common too.
        #expect(SearchIndexParts.parts(of: "x.contact42", frequencies: Self.contactEmails) == ["t42"])
    }

    @Test func theWholeTextWhenNothingOrEverythingIsCommon() {
        #expect(SearchIndexParts.parts(of: "lovelace", frequencies: Self.contactEmails) == nil)
        #expect(SearchIndexParts.parts(of: "contact", frequencies: Self.contactEmails) == nil)
        #expect(SearchIndexParts.parts(of: "contact4242.", frequencies: TrigramFrequencies(listed: [:])) == nil)
        #expect(SearchIndexParts.parts(of: "", frequencies: Self.contactEmails) == nil)
        #expect(SearchIndexParts.parts(of: "%_\\", frequencies: Self.contactEmails) == nil)
    }

    /// Left out, the common trigrams must save more than checking what the rest could find costs.
    @Test func theWholeTextWhenWhatIsLeftCouldFindTooMany() {
        // "gra" (a tenth of the records) costs less to read than its rows would cost to check.
        #expect(SearchIndexParts.parts(of: "graz42", frequencies: Self.contactEmails) == nil)
        // Unlisted trigrams are taken as common as the rarest listed: with a rarest of 1%, the
        // five left out of "contact42" do not pay for checking a hundredth of the table.
        let coarse = TrigramFrequencies(listed: ["con": 1, "ont": 1, "nta": 1, "tac": 1, "act": 1, "ct4": 0.01])
        #expect(SearchIndexParts.parts(of: "contact42", frequencies: coarse) == nil)
        #expect(SearchIndexParts.parts(of: "contact42", frequencies: Self.contactEmails) == ["t42"])
    }

    @Test func eachWordGivesItsOwnPartWithThePaddingItNeeds() {
        // "abc" is followed by a space ("bc "), "def" preceded by one ("  d", " de").
        #expect(SearchIndexParts.parts(of: "abc contact def", frequencies: Self.contactEmails) == ["abc ", " def"])
    }

    @Test func atMostThreePartsTheLongestInTheTextsOrder() {
        let parts = SearchIndexParts.parts(of: "ab contact abcd contact abcdef contact abcde", frequencies: Self.contactEmails)
        #expect(parts == [" abcd ", " abcdef ", " abcde"])
    }

    @Test func everyPartIsASubstringAndHasNoCommonTrigram() {
        var generator = SystemRandomNumberGenerator()
        let pieces = ["contact", "cont", "4", "2", "x", "é", " ", ".", "-", "_", "%"]
        var asked = 0
        for _ in 0..<2_000 {
            let text = (0..<Int.random(in: 0...10, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
            guard let parts = SearchIndexParts.parts(of: text, frequencies: Self.contactEmails) else { continue }
            asked += 1
            #expect(!parts.isEmpty && parts.count <= SearchIndexParts.maximumParts, "\(text)")
            for part in parts {
                #expect(text.contains(part), "\(part) of \(text)")
                // Asked on its own, a part has nothing to leave out.
                #expect(SearchIndexParts.parts(of: part, frequencies: Self.contactEmails) == nil, "\(part) of \(text)")
            }
        }
        #expect(asked > 100)
    }
}
