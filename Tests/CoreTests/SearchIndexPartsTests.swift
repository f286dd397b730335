import Testing

@testable import CustodianCore

@Suite("q asks the trigram index for its parts without the trigrams most records share")
struct SearchIndexPartsTests {
    /// What ANALYZE finds common when every contact's email starts with "contact".
    static let contactEmails: Set<String> = ["  c", " co", "con", "ont", "nta", "tac", "act", "ct "]

    @Test func aRareTailOfACommonWordIsAskedForAlone() {
        #expect(SearchIndexParts.parts(of: "contact4242.", commonTrigrams: Self.contactEmails) == ["ct4242."])
        #expect(SearchIndexParts.parts(of: "Contact4242", commonTrigrams: Self.contactEmails) == ["ct4242"])
        // "  c" and " co" pad the word after the dot: they are common too.
        #expect(SearchIndexParts.parts(of: "x.contact42", commonTrigrams: Self.contactEmails) == ["ct42"])
    }

    @Test func theWholeTextWhenNothingOrEverythingIsCommon() {
        #expect(SearchIndexParts.parts(of: "lovelace", commonTrigrams: Self.contactEmails) == nil)
        #expect(SearchIndexParts.parts(of: "contact", commonTrigrams: Self.contactEmails) == nil)
        #expect(SearchIndexParts.parts(of: "contact4242.", commonTrigrams: []) == nil)
        #expect(SearchIndexParts.parts(of: "", commonTrigrams: Self.contactEmails) == nil)
        #expect(SearchIndexParts.parts(of: "%_\\", commonTrigrams: Self.contactEmails) == nil)
    }

    @Test func eachWordGivesItsOwnPartWithThePaddingItNeeds() {
        // "abc" is followed by a space ("bc "), "def" preceded by one ("  d", " de").
        #expect(SearchIndexParts.parts(of: "abc contact def", commonTrigrams: Self.contactEmails) == ["abc ", " def"])
    }

    @Test func atMostThreePartsTheLongestInTheTextsOrder() {
        let parts = SearchIndexParts.parts(of: "ab contact abcd contact abcdef contact abcde", commonTrigrams: Self.contactEmails)
        #expect(parts == [" abcd ", " abcdef ", " abcde"])
    }

    @Test func everyPartIsASubstringAndHasNoCommonTrigram() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("contac42 .-_%é")
        for _ in 0..<2_000 {
            let text = String((0..<Int.random(in: 0...24, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
            guard let parts = SearchIndexParts.parts(of: text, commonTrigrams: Self.contactEmails) else { continue }
            #expect(!parts.isEmpty && parts.count <= SearchIndexParts.maximumParts, "\(text)")
            for part in parts {
                #expect(text.contains(part), "\(part) of \(text)")
                #expect(SearchIndexParts.parts(of: part, commonTrigrams: Self.contactEmails) == nil, "\(part) of \(text)")
            }
        }
    }
}
