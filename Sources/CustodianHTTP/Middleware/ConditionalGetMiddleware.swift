import HTTPTypes
import Hummingbird

/// `If-None-Match` on reads: a GET whose answer carries an ETag (the record's revision) that the
/// client holds already gets 304 Not Modified with no body, so a client that polls a record
/// re-downloads it only after it changed. The read itself still runs: the answer's ETag is the
/// revision it read.
struct ConditionalGetMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let response = try await next(request, context)
        guard request.method == .get || request.method == .head, response.status == .ok,
            let condition = request.headers[.ifNoneMatch], let etag = response.headers[.eTag],
            Self.matches(condition, etag)
        else { return response }
        var headers = HTTPFields()
        for name in [HTTPField.Name.eTag, .cacheControl] {
            if let value = response.headers[name] { headers[name] = value }
        }
        return Response(status: .notModified, headers: headers)
    }

    /// RFC 9110 §13.1.2: `*`, or any listed tag equal to the current one by weak comparison
    /// (`W/` ignored on both sides).
    static func matches(_ condition: String, _ etag: String) -> Bool {
        let current = weak(etag)
        return condition.split(separator: ",").contains { candidate in
            let tag = candidate.trimmingCharacters(in: .whitespaces)
            return tag == "*" || weak(tag) == current
        }
    }

    private static func weak<S: StringProtocol>(_ tag: S) -> Substring {
        let tag = Substring(tag)
        return tag.hasPrefix("W/") ? tag.dropFirst(2) : tag
    }
}
