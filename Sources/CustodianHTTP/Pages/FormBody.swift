import Foundation
import Hummingbird
import NIOCore

/// An `application/x-www-form-urlencoded` body, as a browser posts a form.
struct FormBody: Sendable {
    /// Every name with its values, in order.
    let pairs: [(name: String, value: String)]

    static func read(_ request: Request, maxBytes: Int = 64 * 1024) async throws -> FormBody {
        let type = request.headers[.contentType]?.lowercased() ?? ""
        guard type.hasPrefix("application/x-www-form-urlencoded") else {
            throw ProblemError(.unsupportedMediaType, detail: "send the form as application/x-www-form-urlencoded")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maxBytes)
        } catch is NIOTooManyBytesError {
            throw ProblemError(.payloadTooLarge, detail: "the form may be at most \(maxBytes) bytes")
        }
        guard let text = String(validating: buffer.readableBytesView, as: UTF8.self) else {
            throw ProblemError(.badRequest, detail: "the form is not valid UTF-8")
        }
        guard let pairs = FormURLEncoding.pairs(text[...]) else {
            throw ProblemError(.badRequest, detail: "the form is not valid URL encoding")
        }
        // A NUL is valid URL encoding but no text the database can hold: invalid input, as in JSON bodies.
        if pairs.contains(where: { $0.name.contains("\0") || $0.value.contains("\0") }) {
            throw ProblemError(.validationFailed, detail: "the form holds a NUL character")
        }
        return FormBody(pairs: pairs)
    }

    func value(_ name: String) -> String? { pairs.first { $0.name == name }?.value }

    func values(_ name: String) -> [String] { pairs.filter { $0.name == name }.map(\.value) }
}
