import HTTPTypes
import Hummingbird
import NIOCore

/// Refuses bodies over the configured size with 413 before a handler sees them: at once when the
/// declared Content-Length is too large, otherwise while the body streams in.
struct BodyLimitMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let maxBytes: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > maxBytes {
            throw ProblemError(.payloadTooLarge, detail: "the body may be at most \(maxBytes) bytes")
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
