import HTTPTypes
import Hummingbird
import NIOCore

/// Refuses bodies over the configured size with 413 before a handler sees them.
///
/// A declared Content-Length is checked at once (the HTTP parser never delivers more than it
/// declares). Only a body without one, sent chunked, is collected here to count it as it streams
/// in; a request with neither has no body, and nothing is read.
struct BodyLimitMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let maxBytes: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let declared = request.headers[.contentLength] {
            guard let length = Int(declared), length >= 0 else {
                throw ProblemError(.badRequest, detail: "Content-Length must be a number of bytes")
            }
            guard length <= maxBytes else {
                throw ProblemError(.payloadTooLarge, detail: "the body may be at most \(maxBytes) bytes")
            }
            return try await next(request, context)
        }
        guard request.headers[.transferEncoding] != nil else {
            return try await next(request, context)
        }
        var request = request
        do {
            _ = try await request.collectBody(upTo: maxBytes)
        } catch is NIOTooManyBytesError {
            throw ProblemError(.payloadTooLarge, detail: "the body may be at most \(maxBytes) bytes")
        }
        return try await next(request, context)
    }
}
