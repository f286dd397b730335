import CustodianCore
import HTTPTypes
import JSONText

/// An RFC 9457 problem detail, the body of every error response (`application/problem+json`).
public struct Problem: Sendable, Equatable {
    /// Stable, documented URI naming the kind of problem; clients branch on this, never on `title`.
    public var type: String
    public var title: String
    public var status: Int
    public var detail: String?
    public var instance: String?
    /// The request's `X-Request-Id`, so a user's report can be matched to the server's logs.
    public var requestID: String?
    /// For validation failures: every offending field and what is wrong with it.
    public var errors: [FieldError]?
    /// For `restricted`: the restriction in force that refused the change.
    public var restrictionID: String?

    public init(_ kind: ProblemType, detail: String? = nil, instance: String? = nil) {
        self.type = kind.uri
        self.title = kind.title
        self.status = Int(kind.status.code)
        self.detail = detail
        self.instance = instance
    }
}

/// The catalogue of problem types. Each URI is part of the API contract (see `openapi.yaml`).
public struct ProblemType: Sendable, Equatable {
    public let slug: String
    public let title: String
    public let status: HTTPResponse.Status

    public var uri: String { "urn:custodian:problem:" + slug }

    public static let badRequest = ProblemType(slug: "bad-request", title: "The request is malformed", status: .badRequest)
    public static let malformedJSON = ProblemType(
        slug: "malformed-json", title: "The body is not valid JSON of the expected shape", status: .badRequest)
    public static let notFound = ProblemType(slug: "not-found", title: "Nothing is here", status: .notFound)
    public static let methodNotAllowed = ProblemType(
        slug: "method-not-allowed", title: "This resource does not support that method", status: .methodNotAllowed)
    public static let requestTimeout = ProblemType(
        slug: "request-timeout", title: "The request did not arrive in time", status: .requestTimeout)
    public static let payloadTooLarge = ProblemType(
        slug: "payload-too-large", title: "The request body is too large", status: .contentTooLarge)
    public static let unsupportedMediaType = ProblemType(
        slug: "unsupported-media-type", title: "The body must be application/json", status: .unsupportedMediaType)
    public static let unauthorized = ProblemType(slug: "unauthorized", title: "A valid API key is required", status: .unauthorized)
    public static let forbidden = ProblemType(slug: "forbidden", title: "Your role does not allow this", status: .forbidden)
    public static let restricted = ProblemType(
        slug: "restricted", title: "The person's processing is restricted", status: .conflict)
    public static let validationFailed = ProblemType(
        slug: "validation-failed", title: "Some fields are invalid", status: .unprocessableContent)
    public static let duplicate = ProblemType(slug: "duplicate", title: "A unique value is taken already", status: .conflict)
    public static let conflict = ProblemType(slug: "conflict", title: "The change conflicts with other data", status: .conflict)
    public static let preconditionFailed = ProblemType(
        slug: "precondition-failed", title: "The record changed since you read it", status: .preconditionFailed)
    public static let idempotencyKeyReused = ProblemType(
        slug: "idempotency-key-reused", title: "The Idempotency-Key was used for another request", status: .unprocessableContent
    )
    public static let idempotencyNotSupported = ProblemType(
        slug: "idempotency-not-supported", title: "This operation does not take an Idempotency-Key", status: .badRequest
    )
    public static let erasedPerson = ProblemType(
        slug: "erased-person", title: "The person was erased at their request", status: .conflict)
    public static let invalidCredentials = ProblemType(
        slug: "invalid-credentials", title: "The email or the password is wrong, or the account is locked", status: .unauthorized)
    public static let sessionRequired = ProblemType(
        slug: "session-required", title: "A valid customer-area session is required", status: .unauthorized)
    public static let accountInactive = ProblemType(
        slug: "account-inactive", title: "The contact or their customer is inactive", status: .forbidden)
    public static let acceptanceRequired = ProblemType(
        slug: "acceptance-required", title: "Accept the policies in effect first", status: .forbidden)
    public static let portalDisabled = ProblemType(
        slug: "portal-disabled", title: "The customer area is not enabled", status: .notFound)
    public static let invalidCursor = ProblemType(slug: "invalid-cursor", title: "The cursor is not valid", status: .badRequest)
    public static let cursorExpired = ProblemType(
        slug: "cursor-expired", title: "The cursor is older than the changes kept; start again without it", status: .gone)
    public static let tooManyRequests = ProblemType(slug: "too-many-requests", title: "Too many requests", status: .tooManyRequests)
    public static let busy = ProblemType(slug: "busy", title: "The server is busy; try again shortly", status: .serviceUnavailable)
    public static let databaseTimeout = ProblemType(
        slug: "database-timeout", title: "The database did not answer in time", status: .serviceUnavailable
    )
    public static let databaseUnavailable = ProblemType(
        slug: "database-unavailable", title: "The database cannot be reached", status: .serviceUnavailable)
    public static let internalError = ProblemType(
        slug: "internal-error", title: "The server failed to handle the request", status: .internalServerError)

    /// For statuses raised by the framework itself with no more specific type.
    static func generic(for status: HTTPResponse.Status) -> ProblemType {
        switch status.code {
        case 400: .badRequest
        case 404: .notFound
        case 405: .methodNotAllowed
        case 413: .payloadTooLarge
        case 415: .unsupportedMediaType
        case 503: .databaseUnavailable
        case 400..<500: ProblemType(slug: "client-error", title: status.reasonPhrase, status: status)
        default: .internalError
        }
    }
}

/// Thrown by handlers and middleware to answer with a problem; the problem middleware renders it.
public struct ProblemError: Error, Sendable {
    public var problem: Problem
    public var headers: HTTPFields

    public init(_ kind: ProblemType, detail: String? = nil, headers: HTTPFields = [:], errors: [FieldError]? = nil) {
        self.problem = Problem(kind, detail: detail)
        self.problem.errors = errors
        self.headers = headers
    }

    public var status: HTTPResponse.Status { HTTPResponse.Status(code: problem.status) }

    /// 503 with `Retry-After`: the database cannot be reached or no connection is free.
    static func databaseUnavailable(_ detail: String) -> ProblemError {
        serviceUnavailable(.databaseUnavailable, detail, retryAfterSeconds: 5)
    }

    /// 503 with `Retry-After`: too many requests of a kind are running in this process.
    static func busy(_ detail: String) -> ProblemError {
        serviceUnavailable(.busy, detail, retryAfterSeconds: 1)
    }

    /// 429 with `Retry-After`: the client's address must wait `seconds` (`what` says what it did too often).
    static func tooManyRequests(_ what: String, retryAfterSeconds seconds: Int) -> ProblemError {
        var headers = HTTPFields()
        headers[.retryAfter] = "\(seconds)"
        return ProblemError(.tooManyRequests, detail: "too many \(what) from your address; try again in \(seconds) s", headers: headers)
    }

    /// 503 with `Retry-After`: a statement ran into its lock or statement timeout.
    static func databaseTimeout(_ detail: String) -> ProblemError {
        serviceUnavailable(.databaseTimeout, detail, retryAfterSeconds: 1)
    }

    private static func serviceUnavailable(_ kind: ProblemType, _ detail: String, retryAfterSeconds: Int) -> ProblemError {
        var headers = HTTPFields()
        headers[.retryAfter] = "\(retryAfterSeconds)"
        return ProblemError(kind, detail: detail, headers: headers)
    }
}

extension Problem {
    /// The RFC 9457 document; optional members are left out when empty.
    var json: JSONValue {
        var members: [String: JSONValue] = ["type": .string(type), "title": .string(title), "status": .integer(status)]
        if let detail { members["detail"] = .string(detail) }
        if let instance { members["instance"] = .string(instance) }
        if let requestID { members["request_id"] = .string(requestID) }
        if let restrictionID { members["restriction_id"] = .string(restrictionID) }
        if let errors {
            members["errors"] = .array(errors.map { .object(["field": .string($0.field), "message": .string($0.message)]) })
        }
        return .object(members)
    }
}
