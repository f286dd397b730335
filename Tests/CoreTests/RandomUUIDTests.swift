import CustodianCore
import Foundation
import JSONText
import Testing

@Suite("Request ids: unique version 4 UUIDs")
struct RandomUUIDTests {
    @Test func theyAreVersion4VariantRFC4122AndDoNotRepeat() {
        let ids = (0..<2000).map { _ in UUID.unique() }
        #expect(Set(ids).count == ids.count)
        for id in ids {
            let text = id.lowercasedString
            #expect(Array(text)[14] == "4", "\(text)")
            #expect("89ab".contains(Array(text)[19]), "\(text)")
        }
        // Every other bit varies: over 2,000 ids, no bit outside the version and variant is stuck.
        var ones = [Int](repeating: 0, count: 128)
        for id in ids {
            withUnsafeBytes(of: id.uuid) { bytes in
                for bit in 0..<128 where bytes[bit / 8] & (0x80 >> UInt8(bit % 8)) != 0 { ones[bit] += 1 }
            }
        }
        let fixed: Set<Int> = [48, 49, 50, 51, 64, 65]
        for bit in 0..<128 where !fixed.contains(bit) {
            #expect((700...1300).contains(ones[bit]), "bit \(bit) was set \(ones[bit]) times in 2,000")
        }
    }
}
