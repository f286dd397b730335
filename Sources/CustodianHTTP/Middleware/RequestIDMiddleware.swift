import CustodianCore
import Foundation
import HTTPTypes
import Hummingbird
import JSONText
import NIOCore

extension HTTPField.Name {
    static let requestID = Self("X-Request-Id")!
    static let traceparent = Self("traceparent")!
}

/// Gives every request an id: the caller's `X-Request-Id` when it is sensible, else a new UUID.
/// The id is echoed on the response and attached to every log line of the request.
struct RequestIDMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let requestID = request.headers[.requestID].flatMap(Self.acceptable) ?? UUID.unique().lowercasedString
        context.requestID = requestID
        context.logger[metadataKey: "request_id"] = .string(requestID)
        // W3C Trace Context: a well-formed `traceparent` joins this request to the caller's
        // trace (in every log line, and on the webhook deliveries of the events it causes); a
        // malformed one is ignored, as the specification asks.
        var response: Response
        if let trace = request.headers[.traceparent].flatMap(TraceContext.init(header:)) {
            context.logger[metadataKey: "trace_id"] = .string(trace.traceID)
            response = try await TraceContext.$current.withValue(trace) { try await next(request, context) }
        } else {
            // No task-local to push and pop: most requests come without a trace.
            response = try await next(request, context)
        }
        response.headers[.requestID] = requestID
        return response
    }

    /// Up to 128 visible ASCII characters: anything else could forge log lines or bloat them.
    static func acceptable(_ candidate: String) -> String? {
        guard !candidate.isEmpty, candidate.utf8.count <= 128,
            candidate.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f })
        else { return nil }
        return candidate
    }
}
