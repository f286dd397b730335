/// What the domain refuses, in its own terms; the HTTP shell maps each case to a status and a
/// problem type in one place.
public enum DomainError: Error, Sendable, Equatable {
    /// Input that breaks the rules, one entry per offending field.
    case invalid([FieldError])
    /// No such record (or none this caller may see).
    case notFound(resource: String)
    /// A unique value is taken already.
    case duplicate(field: String)
    /// The record changed since the caller read it (its ETag no longer matches).
    case stale(currentRevision: Int64)
    /// The change would break an invariant of the data as a whole.
    case conflict(String)
    /// The cursor is not one this server issued.
    case invalidCursor
    /// The value (an email) is an erased person's: staff may not enter them again.
    case erasedPerson(field: String)
    /// Too much of a costly kind of work is under way; the caller may try again shortly.
    case busy(String)
}

extension DomainError {
    /// The optimistic-concurrency check every write makes: `expected` is the caller's If-Match
    /// (nil when none was sent), `current` the revision the locked row has.
    static func requireRevision(_ expected: Int64?, current: Int64) throws {
        if let expected, expected != current { throw DomainError.stale(currentRevision: current) }
    }
}

/// One offending field of a request: a JSON path such as `email` or `custom_fields.size`.
public struct FieldError: Sendable, Equatable, Codable {
    public var field: String
    public var message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }
}
