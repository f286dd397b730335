/// The common shape of custom fields — one level of ASCII keys whose values are strings, whole
/// numbers, booleans or null — written with sorted keys straight from PostgreSQL's text, as
/// `JSONValue(json:)` then `serialized()` would write it, without building a `JSONValue` (a
/// dictionary and strings per record of a list page). Anything else is left to `JSONValue`.
public enum FlatJSONObject {
    /// Writes the object in `text` with its keys sorted and true, or returns false with `output`
    /// untouched when `text` is not such an object.
    public static func writeSorted(_ text: UnsafeBufferPointer<UInt8>, to output: inout [UInt8]) -> Bool {
        var scanner = Scanner(text: text)
        guard let members = scanner.members() else { return false }
        let order = members.indices.sorted { text[members[$0].key].lexicographicallyPrecedes(text[members[$1].key]) }
        for (position, index) in order.enumerated().dropFirst()
        where text[members[index].key].elementsEqual(text[members[order[position - 1]].key]) {
            return false // a repeated key: JSONValue keeps the first
        }
        output.append(UInt8(ascii: "{"))
        for (position, index) in order.enumerated() {
            if position > 0 { output.append(UInt8(ascii: ",")) }
            output.append(UInt8(ascii: "\""))
            output.append(contentsOf: text[members[index].key])
            output.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
            output.append(contentsOf: text[members[index].value])
        }
        output.append(UInt8(ascii: "}"))
        return true
    }

    private struct Scanner {
        let text: UnsafeBufferPointer<UInt8>
        var position = 0

        /// The key (between its quotes) and value ranges of each member, or nil when the text
        /// is not a flat object of the shape above.
        mutating func members() -> [(key: Range<Int>, value: Range<Int>)]? {
            skipWhitespace()
            guard take(UInt8(ascii: "{")) else { return nil }
            var members: [(key: Range<Int>, value: Range<Int>)] = []
            skipWhitespace()
            if !take(UInt8(ascii: "}")) {
                repeat {
                    skipWhitespace()
                    guard take(UInt8(ascii: "\"")), let key = plainKey() else { return nil }
                    skipWhitespace()
                    guard take(UInt8(ascii: ":")) else { return nil }
                    skipWhitespace()
                    guard let value = scalarValue() else { return nil }
                    members.append((key, value))
                    skipWhitespace()
                } while take(UInt8(ascii: ","))
                guard take(UInt8(ascii: "}")) else { return nil }
            }
            skipWhitespace()
            return position == text.count ? members : nil
        }

        private mutating func take(_ byte: UInt8) -> Bool {
            guard position < text.count, text[position] == byte else { return false }
            position += 1
            return true
        }

        private mutating func skipWhitespace() {
            while position < text.count {
                switch text[position] {
                case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"): position += 1
                default: return
                }
            }
        }

        /// A key of printable ASCII without escapes (the opening quote taken): sorted by its
        /// bytes, it sorts as Swift sorts the `String`.
        private mutating func plainKey() -> Range<Int>? {
            let start = position
            while position < text.count, text[position] != UInt8(ascii: "\"") {
                guard (0x20..<0x80).contains(text[position]), text[position] != UInt8(ascii: "\\") else { return nil }
                position += 1
            }
            guard position < text.count else { return nil }
            position += 1
            return start..<position - 1
        }

        /// A value whose text `JSONValue` writes back unchanged: a string without escapes, an
        /// integer in canonical form that fits `Int`, true, false or null.
        private mutating func scalarValue() -> Range<Int>? {
            let start = position
            guard position < text.count else { return nil }
            switch text[position] {
            case UInt8(ascii: "\""):
                position += 1
                while position < text.count, text[position] != UInt8(ascii: "\"") {
                    guard text[position] >= 0x20, text[position] != UInt8(ascii: "\\") else { return nil }
                    position += 1
                }
                guard position < text.count else { return nil }
                position += 1
                let contents = UnsafeBufferPointer(rebasing: text[start + 1..<position - 1])
                guard contents.allSatisfy({ $0 < 0x80 }) || JSONValue.isUTF8(contents) else { return nil }
            case UInt8(ascii: "t"): guard literal("true") else { return nil }
            case UInt8(ascii: "f"): guard literal("false") else { return nil }
            case UInt8(ascii: "n"): guard literal("null") else { return nil }
            default: guard canonicalInteger() else { return nil }
            }
            return start..<position
        }

        private mutating func literal(_ word: StaticString) -> Bool {
            let length = word.utf8CodeUnitCount
            guard position + length <= text.count,
                (0..<length).allSatisfy({ text[position + $0] == word.utf8Start[$0] })
            else { return false }
            position += length
            return true
        }

        /// `0`, or an optional minus and up to 18 digits without a leading zero, not followed by
        /// a fraction or exponent (those become doubles, written differently).
        private mutating func canonicalInteger() -> Bool {
            let negative = take(UInt8(ascii: "-"))
            let start = position
            while position < text.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(text[position]) { position += 1 }
            let digits = position - start
            guard (1...18).contains(digits), text[start] != UInt8(ascii: "0") || (digits == 1 && !negative) else { return false }
            guard position < text.count else { return true }
            return text[position] != UInt8(ascii: ".") && text[position] != UInt8(ascii: "e") && text[position] != UInt8(ascii: "E")
        }
    }
}
