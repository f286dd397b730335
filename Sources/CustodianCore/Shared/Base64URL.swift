import Foundation

/// base64url (RFC 4648 §5) without padding: how tokens, keys, signatures and cursors are written.
/// Written out here because Foundation's way there (base64, then three `replacingOccurrences`
/// through NSString) was 8% of the server's time on the public consent page.
enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// The 6-bit value of each byte, or `invalid`.
    private static let values: [UInt8] = {
        var values = [UInt8](repeating: invalid, count: 256)
        for (value, character) in alphabet.enumerated() { values[Int(character)] = UInt8(value) }
        return values
    }()
    private static let invalid: UInt8 = 0xFF

    static func encode(_ bytes: some Collection<UInt8>) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count * 8 + 5) / 6)
        append(bytes, to: &output)
        return String(decoding: output, as: UTF8.self)
    }

    static func append(_ bytes: some Collection<UInt8>, to output: inout [UInt8]) {
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = buffer << 8 | UInt32(byte)
            bits += 8
            while bits >= 6 {
                bits -= 6
                output.append(alphabet[Int(buffer >> UInt32(bits) & 0x3F)])
            }
        }
        if bits > 0 { output.append(alphabet[Int(buffer << UInt32(6 - bits) & 0x3F)]) }
    }

    /// The bytes `text` encodes, or nil when it holds anything but the alphabet or has a length
    /// no byte count encodes to. Like Foundation's decoder, bits left over after the last whole
    /// byte are ignored.
    static func decode(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count * 6 / 8)
        var buffer: UInt32 = 0
        var bits = 0
        for character in text.utf8 {
            let value = values[Int(character)]
            guard value != invalid else { return nil }
            buffer = (buffer << 6 | UInt32(value)) & 0xFFFF
            bits += 6
            if bits >= 8 {
                bits -= 8
                bytes.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        return bits < 6 ? bytes : nil
    }
}

extension Data {
    public var base64URLEncoded: String { Base64URL.encode(self) }

    public init?(base64URLEncoded text: String) {
        guard let bytes = Base64URL.decode(text) else { return nil }
        self.init(bytes)
    }
}
