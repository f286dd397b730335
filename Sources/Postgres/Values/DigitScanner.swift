/// Reads numbers and separators off the front of ASCII text: for hand-written parsers of dates and
/// times, which Foundation's formatters make slow and lenient.
public struct DigitScanner {
    private let bytes: [UInt8]
    private var position = 0

    public init(_ text: String) { self.bytes = Array(text.utf8) }

    public var isAtEnd: Bool { position == bytes.count }

    /// Steps over `character` if it comes next.
    public mutating func skip(_ character: Unicode.Scalar) -> Bool {
        guard position < bytes.count, bytes[position] == UInt8(ascii: character) else { return false }
        position += 1
        return true
    }

    public mutating func sign() -> Int? {
        if skip("+") { return 1 }
        if skip("-") { return -1 }
        return nil
    }

    /// Exactly `digits` decimal digits.
    public mutating func number(digits: Int) -> Int? {
        guard position + digits <= bytes.count else { return nil }
        var value = 0
        for byte in bytes[position..<position + digits] {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        position += digits
        return value
    }

    /// As many digits as follow (at least one), and how many there were.
    public mutating func digitRun() -> (value: Int, count: Int)? {
        var value = 0
        var count = 0
        while position < bytes.count, bytes[position] >= UInt8(ascii: "0"), bytes[position] <= UInt8(ascii: "9") {
            value = value * 10 + Int(bytes[position] - UInt8(ascii: "0"))
            count += 1
            position += 1
        }
        return count == 0 ? nil : (value, count)
    }
}
