import Foundation
import JSONText
import Testing

@Suite("JSON read by JSONValue(json:), as JSONDecoder reads it")
struct JSONParsingTests {
    static let documents = [
        #"{"a": 1, "b": [true, false, null], "c": {"d": "e"}}"#,
        #"  [ ]  "#, "{}", #""""#, "0", "-0", "1.0", "2e2", "1E+2", "-1.5e-3", "9223372036854775807", "9223372036854775808",
        "-9223372036854775808", "0.1", "123456789.125",
        #""quote \" backslash \\ slash \/ \b\f\n\r\t""#,
        #""\u00fc\u6771\u4eac \ud83d\ude42 \u2028""#,
        #""Grüße 東京 🙂""#,
        #"{"dup": 1, "dup": 2}"#,
        #"[[[[[[[[[[1]]]]]]]]]]"#,
    ]

    @Test(arguments: documents)
    func itReadsWhatJSONDecoderReads(document: String) throws {
        let expected = try JSONDecoder().decode(JSONValue.self, from: Data(document.utf8))
        #expect(JSONValue(json: document) == expected)
    }

    static let notJSON = [
        "", " ", "{", "[1,]", "{\"a\" 1}", "{\"a\":1,}", "tru", "nul", "01x", "1.", ".5", "-", "1e", "\"open", "\"bad \\x escape\"",
        "\"\\ud83d alone\"", "\"tab\tinside\"", "[1] 2", "{\"a\":1}}", "+1", "NaN", "1e400",
    ]

    @Test(arguments: notJSON)
    func itRefusesWhatIsNotJSON(document: String) {
        #expect(JSONValue(json: document) == nil)
    }

    @Test func itRefusesDocumentsNestedTooDeeply() {
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        #expect(JSONValue(json: deep) == nil)
    }
}
