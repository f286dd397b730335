/// Which parts of a searched text to ask a trigram index for, leaving out trigrams most records
/// share (migration 0037 says why). Each part is a substring of the text, so every record that
/// contains the text contains every part: asking the index for the parts finds a superset of the
/// records, and the whole text, checked on the rows found, gives the same result as asking for
/// the whole text. What this decides is only how much of the index is read.
///
/// The trigrams are pg_trgm's for a `LIKE '%…%'` pattern: each word (letters and digits) of the
/// lower-cased text, padded with two spaces in front when a non-word character precedes it in the
/// text and one space after when one follows it. Accents are not removed here as `search_text`
/// removes them, so a word with accents may be given a trigram the statistics do not name; that
/// can only make this ask the index for more, never change what is found.
enum SearchIndexParts {
    /// At most this many parts are asked for (each is one more condition of the statement).
    static let maximumParts = 3

    /// The parts of `search` to ask the index for, or nil to ask for the whole text (it has no
    /// common trigram, or nothing but common ones).
    static func parts(of search: String, commonTrigrams: Set<String>) -> [String]? {
        guard !commonTrigrams.isEmpty else { return nil }
        let characters = Array(search)
        let folded = characters.map { $0.lowercased().first ?? $0 }
        var runs: [Range<Int>] = []
        var sawCommon = false
        for word in words(in: characters) {
            var run: Range<Int>?
            let trigrams = trigrams(of: word, in: folded)
            for (index, trigram) in trigrams.enumerated() {
                // A word's two front-padded trigrams ("  c", " co") both come from the character
                // before it: a part has both or neither.
                let frontPadCommon = word.lowerBound > 0 && index == 1 && commonTrigrams.contains(trigrams[0].text)
                if commonTrigrams.contains(trigram.text) || frontPadCommon {
                    sawCommon = true
                    if let finished = run { runs.append(finished) }
                    run = nil
                } else {
                    run = run.map { $0.lowerBound..<trigram.span.upperBound } ?? trigram.span
                }
            }
            if let finished = run { runs.append(finished) }
        }
        guard sawCommon, !runs.isEmpty else { return nil }
        let kept = runs.sorted { $0.count > $1.count }.prefix(maximumParts).sorted { $0.lowerBound < $1.lowerBound }
        return kept.map { String(characters[$0]) }
    }

    private static func isWordCharacter(_ character: Character) -> Bool {
        character.isLetter || character.isNumber
    }

    /// The maximal runs of word characters, as positions in `characters`.
    private static func words(in characters: [Character]) -> [Range<Int>] {
        var words: [Range<Int>] = []
        var start: Int?
        for (position, character) in characters.enumerated() {
            if isWordCharacter(character) {
                if start == nil { start = position }
            } else if let begun = start {
                words.append(begun..<position)
                start = nil
            }
        }
        if let begun = start { words.append(begun..<characters.count) }
        return words
    }

    /// A word's trigrams in order, each with the positions of the text it needs: a padding space
    /// stands for the non-word character beside the word, which a part must then include.
    private static func trigrams(of word: Range<Int>, in folded: [Character]) -> [(text: String, span: Range<Int>)] {
        // Each character with its position in the text; a padding space has the position of the
        // non-word character it stands for.
        var padded: [(character: Character, position: Int)] = []
        if word.lowerBound > 0 {
            padded.append((" ", word.lowerBound - 1))
            padded.append((" ", word.lowerBound - 1))
        }
        for position in word { padded.append((folded[position], position)) }
        if word.upperBound < folded.count { padded.append((" ", word.upperBound)) }
        guard padded.count >= 3 else { return [] }
        return (0...(padded.count - 3)).map { start in
            let window = padded[start..<(start + 3)]
            return (String(window.map(\.character)), padded[start].position..<(padded[start + 2].position + 1))
        }
    }
}
