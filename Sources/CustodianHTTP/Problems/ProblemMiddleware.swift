import CustodianCore
import Foundation
import Hummingbird
import NIOCore
import Postgres

/// Turns every error into an `application/problem+json` response. The one place where errors get
/// a status and a problem type; anything unexpected becomes a logged 500 that reveals nothing.
struct ProblemMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let routes: RouteCatalog

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let problemError = classify(error, request: request, context: context)
            return Self.response(for: problemError, requestID: context.requestID, instance: request.uri.path)
        }
    }

    private func classify(_ error: any Error, request: Request, context: Context) -> ProblemError {
        switch error {
        case let problem as ProblemError:
            return problem
        case let error as DomainError:
            return Self.problem(for: error)
        case let error as PostgresPoolError:
            context.logger.warning("database unavailable", metadata: ["error": "\(error)"])
            return .databaseUnavailable("no database connection is available")
        case let error as PostgresError where error.kind == .connection:
            context.logger.warning("database unavailable", metadata: ["error": "\(error)"])
            return .databaseUnavailable("the database cannot be reached")
        case let error as HTTPError where error.status == .notFound:
            // The router answers 404 for a known path with an unknown method; 405 is the truth then.
            let allowed = routes.allowedMethods(forPath: request.uri.path)
            if !allowed.isEmpty {
                var headers = HTTPFields()
                headers[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
                return ProblemError(.methodNotAllowed, detail: "\(request.method) is not supported here", headers: headers)
            }
            return ProblemError(.notFound, detail: "no resource at \(request.uri.path)")
        case let error as HTTPError:
            return ProblemError(.generic(for: error.status), detail: error.body)
        case is NIOTooManyBytesError:
            return ProblemError(.payloadTooLarge)
        case let error as DecodingError:
            return ProblemError(.malformedJSON, detail: JSONBody.explain(error))
        default:
            context.logger.error("unhandled error", metadata: ["error": "\(String(reflecting: error))"])
            return ProblemError(.internalError)
        }
    }

    static func problem(for error: DomainError) -> ProblemError {
        switch error {
        case .invalid(let fields):
            let names = fields.map(\.field).joined(separator: ", ")
            return ProblemError(.validationFailed, detail: "invalid: \(names)", errors: fields)
        case .notFound(let resource):
            return ProblemError(.notFound, detail: "no such \(resource)")
        case .duplicate(let field):
            return ProblemError(
                .duplicate, detail: "\(field) is taken already",
                errors: [FieldError(field: field, message: "is taken already")]
            )
        case .stale(let revision):
            var headers = HTTPFields()
            headers[.eTag] = ETag.value(revision)
            return ProblemError(.preconditionFailed, detail: "the record is at a newer revision; read it again", headers: headers)
        case .conflict(let reason):
            return ProblemError(.conflict, detail: reason)
        case .invalidCursor:
            return ProblemError(.invalidCursor, detail: "pass back a next_cursor this server returned")
        }
    }

    static func response(for error: ProblemError, requestID: String, instance: String) -> Response {
        var problem = error.problem
        problem.requestID = requestID
        problem.instance = problem.instance ?? instance
        var headers = error.headers
        headers[.contentType] = "application/problem+json"
        return Response(status: error.status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: problem.json.serialized())))
    }
}
