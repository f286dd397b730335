import CustodianCore
import Foundation
import Hummingbird
import JSONText
import Logging
import NIOCore
import Postgres

/// Turns every error into an `application/problem+json` response. The one place where errors get
/// a status and a problem type; anything unexpected becomes a logged 500 that reveals nothing.
struct ProblemMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let routes: RouteCatalog
    let metrics: AppMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let problemError = classify(error, request: request, context: context)
            return Self.response(for: problemError, requestID: context.requestID)
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
        case let error as PostgresError:
            if error.kind == .timeout { metrics.databaseInterruption("timeout") }
            if error.kind == .cancelled { metrics.databaseInterruption("cancelled") }
            return Self.problem(for: error, logger: context.logger)
        case is CancellationError:
            return .databaseUnavailable("the request was cancelled (the server is shutting down)")
        case let error as HTTPError where error.status == .notFound:
            // The router answers 404 for a known path with an unknown method; 405 is the truth then.
            let allowed = routes.allowedMethods(forPath: request.uri.path)
            if !allowed.isEmpty {
                var headers = HTTPFields()
                headers[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
                return ProblemError(.methodNotAllowed, detail: "\(request.method) is not supported here", headers: headers)
            }
            return ProblemError(.notFound, detail: "no resource at this path")
        case let error as HTTPError:
            return ProblemError(.generic(for: error.status), detail: error.body)
        case is NIOTooManyBytesError:
            return ProblemError(.payloadTooLarge)
        case let error as DecodingError:
            return ProblemError(.malformedJSON, detail: JSONBody.explain(error))
        default:
            // The type only: an error's description can quote the values it failed on.
            context.logger.error("unhandled error", metadata: ["error.type": "\(type(of: error))"])
            return ProblemError(.internalError)
        }
    }

    /// Database errors a client can cause (bad data, a broken rule, a timeout) are theirs to fix
    /// or retry: 4xx or 503. Everything else is a bug in our SQL: a 500. Neither the answer nor the
    /// log quotes the server's message or DETAIL, which can hold row values.
    static func problem(for error: PostgresError, logger: Logger) -> ProblemError {
        switch error.kind {
        case .connection:
            logger.warning("database unavailable", metadata: ["error": "\(error)"])
            return .databaseUnavailable("the database cannot be reached")
        case .timeout:
            logger.warning("database timeout", metadata: ["error": "\(error)"])
            return .databaseTimeout("a lock or statement took too long (another change holds the data); try again")
        case .cancelled:
            return .databaseUnavailable("the request was cancelled")
        case .serializationFailure:
            return ProblemError(.conflict, detail: "the change collided with a concurrent one too often; try again")
        case .uniqueViolation:
            return ProblemError(.duplicate, detail: "a unique value is taken already")
        case .foreignKeyViolation:
            return ProblemError(
                .validationFailed, detail: "a referenced record does not exist",
                errors: [FieldError(field: error.field, message: "no such record")])
        case .checkViolation, .notNullViolation, .invalidParameter:
            return ProblemError(
                .validationFailed, detail: "invalid: \(error.field)",
                errors: [FieldError(field: error.field, message: "is not allowed here")])
        case .exclusionViolation:
            return ProblemError(.conflict, detail: "the change conflicts with other data")
        case .transactionAborted, .other:
            if error.sqlState == "55000", error.constraint == "restricted" {
                // The database's restriction guard (migration 0026); its DETAIL is the restriction's id.
                var problem = ProblemError(
                    .restricted,
                    detail:
                        "this person's processing is restricted (GDPR Art. 18): their data is stored, not changed; lift the restriction first"
                )
                problem.problem.restrictionID = error.detail.flatMap(UUID.init(uuidString:))?.lowercasedString
                return problem
            }
            if error.sqlState == "55000", error.constraint == "objected" {
                // The consent decision guard (migration 0029).
                return ProblemError(
                    .conflict,
                    detail:
                        "the person objected to this purpose (GDPR Art. 21): only they can give consent again, through their link or account"
                )
            }
            if error.sqlState == "55000", error.constraint == "legal_hold" {
                // The tombstones' guard (migration 0033): no erasure passes a legal hold in force.
                return ProblemError(
                    .conflict, detail: "the person is under a legal hold: nothing of theirs is erased until the hold is lifted")
            }
            if error.sqlState == "55000", error.constraint == "confirmation_superseded" {
                return ProblemError(.conflict, detail: "the consent was confirmed already, or the person decided since")
            }
            if let sqlState = error.sqlState, sqlState.hasPrefix("22") {
                return ProblemError(
                    .validationFailed, detail: "a value is out of range or malformed",
                    errors: [FieldError(field: error.field, message: "is out of range or malformed")])
            }
            if let sqlState = error.sqlState, sqlState.hasPrefix("23") {
                return ProblemError(.conflict, detail: "the change conflicts with other data")
            }
            logger.error("unhandled database error", metadata: ["error": "\(error)"])
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
        case .busy(let reason):
            return ProblemError.busy(reason)
        case .erasedPerson(let field):
            return ProblemError(
                .erasedPerson,
                detail:
                    "this \(field) belongs to a person who was erased at their request; do not enter them again without their new consent",
                errors: [FieldError(field: field, message: "belongs to an erased person")]
            )
        }
    }

    static func response(for error: ProblemError, requestID: String) -> Response {
        var problem = error.problem
        problem.requestID = requestID
        var headers = error.headers
        headers[.contentType] = "application/problem+json"
        return Response(status: error.status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: problem.json.serialized())))
    }
}

extension PostgresError {
    /// The field a constraint error is about, as far as the names tell: the column PostgreSQL
    /// reports, or the one its default constraint names hold (`<table>_<column>_check`); else the body.
    var field: String {
        if let column { return column }
        if let constraint, let table, constraint.hasPrefix(table + "_") {
            let name = constraint.dropFirst(table.count + 1)
            for suffix in ["_check", "_fkey", "_key"] where name.hasSuffix(suffix) && name.count > suffix.count {
                return String(name.dropLast(suffix.count))
            }
        }
        return "body"
    }
}
