import CustodianCore
import Foundation
import Testing

@Suite("base64url without padding, as Foundation's base64 spells it")
struct Base64URLTests {
    /// Foundation's base64 with the URL alphabet and no padding: what the codec replaced.
    static func foundationBase64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    @Test(arguments: Array(0...70))
    func everyLengthEncodesAndDecodesAsFoundationDoes(length: Int) {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            let data = Data((0..<length).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
            let encoded = data.base64URLEncoded
            #expect(encoded == Self.foundationBase64URL(data))
            #expect(Data(base64URLEncoded: encoded) == data)
        }
    }

    @Test func bytesThatUseTheWholeAlphabetRoundTrip() {
        let data = Data((0...255).map { UInt8($0) } + (0...255).reversed().map { UInt8($0) })
        #expect(Self.foundationBase64URL(data).contains("-") && Self.foundationBase64URL(data).contains("_"))
        #expect(data.base64URLEncoded == Self.foundationBase64URL(data))
        #expect(Data(base64URLEncoded: data.base64URLEncoded) == data)
    }

    static let notBase64URL = [
        "A", "AAAAA", "AA=", "AAA=", "AA==", "A+AA", "A/AA", "AA AA", "AA\u{0}A", "ÄÄÄÄ", "AA\nA", "🙂AAA", "AA.A",
    ]

    @Test(arguments: notBase64URL)
    func itRefusesAnythingButTheAlphabetAndImpossibleLengths(text: String) {
        #expect(Data(base64URLEncoded: text) == nil)
    }

    @Test func leftoverBitsAreIgnoredAsFoundationIgnoresThem() {
        #expect(Data(base64URLEncoded: "") == Data())
        #expect(Data(base64URLEncoded: "AB") == Data(base64Encoded: "AB=="))
        #expect(Data(base64URLEncoded: "AB") == Data([0]))
        #expect(Data(base64URLEncoded: "AAB") == Data([0, 0]))
        #expect(Data(base64URLEncoded: "_-8") == Data(base64Encoded: "/+8="))
    }
}
