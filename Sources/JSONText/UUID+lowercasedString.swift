import Foundation

extension UUID {
    /// The canonical lower-case form (`8-4-4-4-12` hex digits), as the API writes ids everywhere.
    /// Written byte by byte: `uuidString` formats through `snprintf` and `lowercased()` copies it.
    public var lowercasedString: String {
        let digits: StaticString = "0123456789abcdef"
        return withUnsafeBytes(of: uuid) { bytes in
            String(unsafeUninitializedCapacity: 36) { text in
                var position = 0
                for (index, byte) in bytes.enumerated() {
                    if index == 4 || index == 6 || index == 8 || index == 10 {
                        text[position] = UInt8(ascii: "-")
                        position += 1
                    }
                    text[position] = digits.utf8Start[Int(byte >> 4)]
                    text[position + 1] = digits.utf8Start[Int(byte & 0x0f)]
                    position += 2
                }
                return position
            }
        }
    }
}
