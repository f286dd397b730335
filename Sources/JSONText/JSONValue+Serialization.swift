/// JSON text straight from a `JSONValue`, keys sorted, slashes unescaped: the same bytes
/// JSONEncoder writes with `.sortedKeys` and `.withoutEscapingSlashes`, at a fraction of the cost.
extension JSONValue {
    public func serialized() -> [UInt8] {
        var output = [UInt8]()
        output.reserveCapacity(256)
        write(to: &output)
        return output
    }

    /// `serialized()`, appended to `output`.
    public func write(to output: inout [UInt8]) {
        var orders = MemberOrders()
        write(to: &output, orders: &orders)
    }

    private func write(to output: inout [UInt8], orders: inout MemberOrders) {
        switch self {
        case .null:
            output.append(contentsOf: "null".utf8)
        case .bool(let flag):
            output.append(contentsOf: (flag ? "true" : "false").utf8)
        case .integer(let number):
            output.append(contentsOf: String(number).utf8)
        case .number(let number):
            // Non-finite numbers have no JSON form; they never come out of a JSON document.
            output.append(contentsOf: (number.isFinite ? "\(number)" : "null").utf8)
        case .string(let text):
            Self.writeString(text, to: &output)
        case .array(let items):
            output.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                item.write(to: &output, orders: &orders)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let members):
            output.append(UInt8(ascii: "{"))
            let entries = Array(members)
            for (position, index) in orders.sorted(entries).enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                Self.writeString(entries[index].key, to: &output)
                output.append(UInt8(ascii: ":"))
                entries[index].value.write(to: &output, orders: &orders)
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    public static func writeString(_ text: String, to output: inout [UInt8]) {
        var text = text
        text.withUTF8 { writeString(validUTF8: $0, to: &output) }
    }

    /// A string from bytes not known to be UTF-8 (a database cell): written as they are when
    /// they are UTF-8, else through `String`, which repairs them as it does every decoded cell.
    public static func writeString(cell bytes: UnsafeBufferPointer<UInt8>, to output: inout [UInt8]) {
        if bytes.allSatisfy({ $0 < 0x80 }) || isUTF8(bytes) {
            writeString(validUTF8: bytes, to: &output)
        } else {
            writeString(String(decoding: bytes, as: UTF8.self), to: &output)
        }
    }

    public static func isUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    private static func writeString(validUTF8 bytes: UnsafeBufferPointer<UInt8>, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        // Most texts need no escaping: copied whole, they cost a scan and one copy.
        guard bytes.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else {
            output.append(contentsOf: bytes)
            output.append(UInt8(ascii: "\""))
            return
        }
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\""): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x08: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x00..<0x20:
                output.append(contentsOf: "\\u00".utf8)
                output.append(hexDigits[Int(byte >> 4)])
                output.append(hexDigits[Int(byte & 0x0f)])
            default:
                output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }
}

/// The sorted order of objects' members, remembered for one document: the records of a list page
/// have the same keys, which dictionaries of equal size hold in the same order, so a page's
/// records are sorted once instead of once each.
private struct MemberOrders {
    private var known: [(keys: [String], sorted: [Int])] = []
    private static let capacity = 8

    mutating func sorted(_ entries: [(key: String, value: JSONValue)]) -> [Int] {
        for order in known where order.keys.count == entries.count {
            if zip(order.keys, entries).allSatisfy({ $0 == $1.key }) { return order.sorted }
        }
        let sorted = entries.indices.sorted { entries[$0].key < entries[$1].key }
        if known.count == Self.capacity { known.removeFirst() }
        known.append((entries.map(\.key), sorted))
        return sorted
    }
}
