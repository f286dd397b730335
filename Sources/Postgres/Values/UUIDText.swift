import Foundation

/// UUIDs in the text form `uuid_out` prints (8-4-4-4-12 hex digits). Parsed here because
/// Foundation's `UUID(uuidString:)` goes through `sscanf`: 6% of the server's time on a list page.
enum UUIDText {
    /// The 16 bytes of `text`, or nil when it is not 36 characters of hex digits (either case)
    /// with dashes after the 8th, 12th, 16th and 20th digit.
    static func parse(_ text: String) -> uuid_t? {
        var text = text
        return text.withUTF8 { bytes -> uuid_t? in
            guard bytes.count == 36 else { return nil }
            var uuid: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
            let parsed = withUnsafeMutableBytes(of: &uuid) { output -> Bool in
                var position = 0
                for index in 0..<16 {
                    if position == 8 || position == 13 || position == 18 || position == 23 {
                        guard bytes[position] == UInt8(ascii: "-") else { return false }
                        position += 1
                    }
                    guard let high = HexDigit.value(bytes[position]), let low = HexDigit.value(bytes[position + 1]) else { return false }
                    output[index] = high << 4 | low
                    position += 2
                }
                return true
            }
            return parsed ? uuid : nil
        }
    }
}
