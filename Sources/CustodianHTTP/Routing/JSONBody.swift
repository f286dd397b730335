import CustodianCore
import Foundation
import Hummingbird
import JSONText
import NIOCore

extension JSONDecoder {
    /// Request bodies are read into `JSONValue` (or a Decodable with snake_case property names):
    /// no key or date strategies apply.
    static let api = JSONDecoder()
}

/// Reading request bodies and writing response bodies as JSON.
public enum JSONBody {
    /// Decodes the (already size-limited) body; a wrong media type is 415, bad JSON is 400.
    public static func decode<Value: Decodable>(_: Value.Type, from request: Request) async throws -> Value {
        let mediaType = request.headers[.contentType]?.split(separator: ";").first?
            .trimmingCharacters(in: .whitespaces).lowercased()
        guard mediaType == "application/json" else {
            throw ProblemError(.unsupportedMediaType, detail: "send the body as application/json")
        }
        let buffer = try await request.body.collect(upTo: .max)
        do {
            return try JSONDecoder.api.decode(Value.self, from: Data(buffer.readableBytesView))
        } catch let error as DecodingError {
            throw ProblemError(.malformedJSON, detail: explain(error))
        }
    }

    public static func response(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        response(value.serialized(), status: status)
    }

    /// A response of JSON text written already.
    public static func response(_ json: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: json)))
    }

    /// A short, safe explanation of a decoding failure: where in the document and what was wrong.
    static func explain(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return keys.isEmpty ? "the body" : keys.joined(separator: ".")
        }
        switch error {
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "the body is not valid JSON (or not UTF-8)" : "\(path(context)) is invalid"
        case .keyNotFound(let key, let context):
            let parent = context.codingPath.isEmpty ? "" : " in \(path(context))"
            return "\(key.stringValue) is required\(parent)"
        case .typeMismatch(let type, let context):
            return "\(path(context)) must be \(String(describing: type).lowercased())"
        case .valueNotFound(let type, let context):
            return "\(path(context)) must be \(String(describing: type).lowercased()), not null"
        @unknown default:
            return "the body does not have the expected shape"
        }
    }
}

extension Response {
    /// A create's `Location`: the created thing's own URI, or, for an entry that has none (a note,
    /// a consent decision, an acceptance), the list that shows it.
    func located(at path: String) -> Response {
        var response = self
        response.headers[.location] = path
        return response
    }
}
