import Foundation

/// A value stored as JSON in a json or jsonb column: encoded on the way in, decoded on the way out.
public struct JSONB<Value: Codable & Sendable>: Sendable, PostgresBindable, PostgresValueDecodable {
    public var value: Value

    public init(_ value: Value) { self.value = value }

    public var postgresBinding: PostgresBinding {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        // Encoding a Codable value only fails for non-finite floats; NULL is the honest stand-in.
        guard let data = try? encoder.encode(value) else { return .null }
        return .text(String(decoding: data, as: UTF8.self))
    }

    public static func accepts(_ type: PostgresType) -> Bool {
        type == .json || type == .jsonb
    }

    public init?(postgresText text: String, type: PostgresType) {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        guard let value = try? decoder.decode(Value.self, from: Data(text.utf8)) else { return nil }
        self.value = value
    }
}
