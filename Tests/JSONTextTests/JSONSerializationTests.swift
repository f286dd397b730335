import Foundation
import Testing

@testable import JSONText

@Suite("JSON written by JSONValue.serialized()")
struct JSONSerializationTests {
    @Test func itRoundTripsThroughJSONDecoder() throws {
        let tricky: JSONValue = .object([
            "quote \" and backslash \\": .string("line\nbreak\ttab\r\u{08}\u{0C}\u{01}\u{1F} and / slash"),
            "unicode": .string("Grüße 東京 🙂 \u{2028}"),
            "numbers": .array([.integer(0), .integer(-42), .integer(Int.max), .number(1.5), .number(-2.5e-300)]),
            "nested": .object(["empty": .object([:]), "list": .array([]), "flags": .array([.bool(true), .bool(false), .null])]),
        ])
        let bytes = tricky.serialized()
        #expect(try JSONDecoder().decode(JSONValue.self, from: Data(bytes)) == tricky)
    }

    @Test func everyObjectOfAListIsSortedWhateverItsKeysAndTheirOrder() {
        var grown: [String: JSONValue] = [:]
        grown.reserveCapacity(64)
        grown["b"] = .integer(5)
        grown["a"] = .integer(6)
        let list: JSONValue = .array([
            .object(["b": .integer(1), "a": .integer(2)]),
            .object(["a": .integer(3), "b": .integer(4)]),
            .object(grown),
            .object(["d": .integer(1), "c": .integer(2)]),
            .object(["b": .integer(7), "a": .object(["z": .null, "y": .null])]),
        ])
        #expect(
            String(decoding: list.serialized(), as: UTF8.self)
                == #"[{"a":2,"b":1},{"a":3,"b":4},{"a":6,"b":5},{"c":2,"d":1},{"a":{"y":null,"z":null},"b":7}]"#)
    }

    @Test func keysAreSortedAndSlashesLeftAlone() {
        let value: JSONValue = .object(["b": .integer(1), "a": .string("x/y"), "c": .null])
        #expect(String(decoding: value.serialized(), as: UTF8.self) == #"{"a":"x/y","b":1,"c":null}"#)
        #expect(String(decoding: JSONValue.string("\u{0}").serialized(), as: UTF8.self) == #""\u0000""#)
    }

    /// Cells are written from their bytes without a `String`; the text must be what writing the
    /// decoded (and, for bytes that are not UTF-8, repaired) `String` gives.
    @Test func aCellIsWrittenAsItsDecodedStringIs() {
        let cells: [[UInt8]] = [
            [], Array("plain ascii".utf8), Array("quote \" back \\ nl \n tab \t \u{1} \u{1F} del \u{7F}".utf8),
            Array("Grüße 東京 🙂 \u{2028}".utf8), [0x41, 0xFF, 0x42], [0xC3], [0xE2, 0x82], [0xED, 0xA0, 0x80], [0xC0, 0xAF],
            [0xF4, 0x90, 0x80, 0x80], Array("ok ü".utf8) + [0x80] + Array("\"".utf8),
        ]
        for cell in cells {
            var fromCell: [UInt8] = []
            cell.withUnsafeBufferPointer { JSONValue.writeString(cell: $0, to: &fromCell) }
            var fromString: [UInt8] = []
            JSONValue.writeString(String(decoding: cell, as: UTF8.self), to: &fromString)
            #expect(fromCell == fromString, "\(cell)")
            #expect(String(validating: fromCell, as: UTF8.self) != nil, "\(cell)")
        }
    }

    /// Custom fields of a list page skip `JSONValue` when they are a flat object; what they write
    /// must be what `JSONValue` writes, and anything else must be left to it untouched.
    @Test func aFlatObjectIsWrittenAsJSONValueWritesIt() {
        var generator = SystemRandomNumberGenerator()
        let keys = ["a", "b", "B", "aa", "ab", "a b", "", "zeta", "_x", "~", "k1", "k10", "k2", "ünï", #"q\"uote"#]
        let values = [
            #""text""#, #""""#, #""Grüße 🙂""#, #""a/b""#, #""tab\tescaped""#, #""\u00e9""#, "0", "7", "-12", "25000",
            "123456789012345678", "1234567890123456789", "-0", "01", "1.5", "1.0", "2e3", "1E2", "true", "false", "null",
            "[1, 2]", #"{"n": 1}"#, "{}", "tru", "nul", "-", #""open"#,
        ]
        let spaces = ["", " ", "\n", "\t ", "\r\n"]
        var fast = 0
        for _ in 0..<3000 {
            let count = Int.random(in: 0...4, using: &generator)
            let members = (0..<count).map { _ in
                let space = { spaces.randomElement(using: &generator)! }
                return space() + "\"" + keys.randomElement(using: &generator)! + "\"" + space() + ":" + space()
                    + values.randomElement(using: &generator)! + space()
            }
            var text = "{" + members.joined(separator: ",") + "}"
            if Int.random(in: 0..<20, using: &generator) == 0 { text = ["[]", "{", "{} x", #"{"a" 1}"#, #"{"a":1,}"#].randomElement()! }
            let bytes = Array(text.utf8)
            var output: [UInt8] = Array("prefix".utf8)
            let written = bytes.withUnsafeBufferPointer { FlatJSONObject.writeSorted($0, to: &output) }
            if written {
                fast += 1
                let expected = JSONValue(json: text)?.serialized()
                #expect(expected != nil && Array(output.dropFirst(6)) == expected, "\(text)")
            } else {
                #expect(output == Array("prefix".utf8), "\(text)")
            }
        }
        #expect(fast > 300, "the flat path was taken \(fast) times of 3000")
    }
}
