import Hummingbird

/// Records carry a revision that the database bumps on every write; it is their ETag.
enum ETag {
    static func value(_ revision: Int64) -> String { "\"\(revision)\"" }

    /// The revision an `If-Match` header demands, nil when there is none (or `*`).
    static func expectedRevision(_ request: Request) throws -> Int64? {
        guard let header = request.headers[.ifMatch]?.trimmingCharacters(in: .whitespaces) else { return nil }
        if header == "*" { return nil }
        let digits = header.dropFirst().dropLast()
        guard header.hasPrefix("\""), header.hasSuffix("\""), (1...18).contains(digits.count), digits.allSatisfy(\.isASCIIDigit),
            let revision = Int64(digits)
        else {
            throw ProblemError(.badRequest, detail: "If-Match must be an ETag this server returned, such as \"3\"")
        }
        return revision
    }
}
