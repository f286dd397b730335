/// Which parts of a searched text to ask a trigram index for, leaving out trigrams many records
/// share (migration 0037 says why). Each part is a substring of the text, so every record that
/// contains the text contains every part: asking the index for the parts finds a superset of the
/// records, and the whole text, checked on the rows found, gives the same result as asking for
/// the whole text. What this decides is only how much is read.
///
/// The trigrams are pg_trgm's for a `LIKE '%…%'` pattern: each word (letters and digits) of the
/// lower-cased text, padded with two spaces in front when a non-word character precedes it in the
/// text and one space after when one follows it. Accents are not removed here as `search_text`
/// removes them, so a word with accents may be given a trigram the statistics do not list; that
/// can only change how much is read, never what is found.
enum SearchIndexParts {
    /// A trigram in this share of the records or more is left out when it can be.
    static let commonShare = 0.05
    /// What checking one row the index found costs, in index entries read (measured at 1,000,000
    /// contacts: about 10 µs a row, 10 ns an entry).
    static let rowCheckCost = 1_000.0
    /// At most this many parts are asked for (each is one more condition of the statement).
    static let maximumParts = 3

    /// The parts of `search` to ask the index for, or nil to ask for the whole text: when it has
    /// no common trigram or nothing but common ones, or when what is left could find so many rows
    /// that checking them might cost more than reading the common trigrams' lists. That bound
    /// takes the rarest trigram left as what the parts find, ignoring that the others narrow it:
    /// a part leaves out only trigrams far more common than what it keeps.
    static func parts(of search: String, frequencies: TrigramFrequencies) -> [String]? {
        guard !frequencies.listed.isEmpty else { return nil }
        let characters = Array(search)
        let folded = characters.map { $0.lowercased().first ?? $0 }
        var runs: [(span: Range<Int>, rarest: Double)] = []
        var leftOut = 0.0
        for word in words(in: characters) {
            var run: (span: Range<Int>, rarest: Double)?
            let trigrams = trigrams(of: word, in: folded)
            for (index, trigram) in trigrams.enumerated() {
                let frequency = frequencies.of(trigram.text)
                // A word's two front-padded trigrams ("  c", " co") both come from the character
                // before it: a part has both or neither.
                let frontPadLeftOut = word.lowerBound > 0 && index == 1 && frequencies.of(trigrams[0].text) >= commonShare
                if frequency >= commonShare || frontPadLeftOut {
                    leftOut += frequency
                    if let finished = run { runs.append(finished) }
                    run = nil
                } else if let begun = run {
                    run = (begun.span.lowerBound..<trigram.span.upperBound, min(begun.rarest, frequency))
                } else {
                    run = (trigram.span, frequency)
                }
            }
            if let finished = run { runs.append(finished) }
        }
        let kept = runs.sorted { $0.span.count > $1.span.count }.prefix(maximumParts).sorted { $0.span.lowerBound < $1.span.lowerBound }
        guard leftOut > 0, let rarest = kept.map(\.rarest).min(), rarest * rowCheckCost < leftOut else { return nil }
        return kept.map { String(characters[$0.span]) }
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
