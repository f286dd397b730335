import Crypto
import CustodianCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Postgres

extension HTTPField.Name {
    static let idempotencyKey = Self("Idempotency-Key")!
    static let idempotentReplayed = Self("Idempotent-Replayed")!
}

/// `Idempotency-Key` on staff POSTs that create: the create and the record of its answer share
/// one transaction, so a retry with the same key and body gets the first answer and creates
/// nothing, whether the first answer was lost on the way or the database crashed around the
/// commit. The same key with another request is a 422.
struct Idempotency: Sendable {
    let database: PostgresPool
    let maxBodyBytes: Int

    private var keys: IdempotencyKeys { IdempotencyKeys(database: database) }

    /// Wraps a create. Without the header, the handler runs as it would anyway.
    func wrap(_ handler: @escaping StaffAuthenticator.AuthenticatedHandler) -> StaffAuthenticator.AuthenticatedHandler {
        { request, context, actor in
            guard let header = request.headers[.idempotencyKey] else { return try await handler(request, context, actor) }
            let key = try Self.validated(header)
            var request = request
            let body = try await request.collectBody(upTo: maxBodyBytes)
            var hasher = SHA256()
            hasher.update(data: Data("\(request.method.rawValue) \(request.uri.path)\n".utf8))
            hasher.update(data: Data(body.readableBytesView))
            let requestHash = Array(hasher.finalize())
            let owner = context.parameters.get("id").flatMap(UUID.init(uuidString:))
            return try await database.withAmbientTransaction {
                switch try await keys.claim(staffID: actor.member.id, key: key, requestHash: requestHash) {
                case .reusedForAnotherRequest:
                    throw ProblemError(
                        .idempotencyKeyReused, detail: "this Idempotency-Key was used for another request; use a new key for a new request",
                        errors: [FieldError(field: "Idempotency-Key", message: "was used for another request")]
                    )
                case .replay(let stored):
                    return Self.response(stored, replayed: true)
                case .claimed:
                    let response = try await handler(request, context, actor)
                    let stored = try await Self.stored(response)
                    let subject = owner ?? Self.createdID(in: stored.body)
                    try await keys.store(staffID: actor.member.id, key: key, response: stored, subjectID: subject)
                    return Self.response(stored, replayed: false)
                }
            }
        }
    }

    /// For creates whose answer holds a secret shown once (API keys, consent links): nothing
    /// could be replayed without storing the secret, so the header is refused rather than ignored.
    func refuse(_ handler: @escaping StaffAuthenticator.AuthenticatedHandler) -> StaffAuthenticator.AuthenticatedHandler {
        { request, context, actor in
            if request.headers[.idempotencyKey] != nil {
                throw ProblemError(
                    .idempotencyNotSupported,
                    detail:
                        "this answer holds a secret that is shown once and never stored, so it cannot be replayed: send no Idempotency-Key"
                )
            }
            return try await handler(request, context, actor)
        }
    }

    /// 1 to 255 visible ASCII characters (a UUID is usual).
    static func validated(_ header: String) throws -> String {
        guard !header.isEmpty, header.utf8.count <= 255, header.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw ProblemError(
                .badRequest, detail: "Idempotency-Key must be 1 to 255 visible ASCII characters, such as a UUID",
                errors: [FieldError(field: "Idempotency-Key", message: "must be 1 to 255 visible ASCII characters")]
            )
        }
        return header
    }

    private static let storedHeaders: [HTTPField.Name] = [.contentType, .location, .eTag, .cacheControl]

    private static func stored(_ response: Response) async throws -> IdempotencyKeys.StoredResponse {
        let collected = CollectedBody()
        try await response.body.write(CollectingWriter(collected: collected))
        var headers: [String: String] = [:]
        for name in storedHeaders { headers[name.canonicalName] = response.headers[name] }
        return .init(status: Int(response.status.code), headers: headers, body: collected.bytes)
    }

    private static func response(_ stored: IdempotencyKeys.StoredResponse, replayed: Bool) -> Response {
        var headers = HTTPFields()
        for (name, value) in stored.headers.sorted(by: { $0.key < $1.key }) {
            if let field = HTTPField.Name(name) { headers[field] = value }
        }
        if replayed { headers[.idempotentReplayed] = "true" }
        return Response(
            status: HTTPResponse.Status(code: stored.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: stored.body))
        )
    }

    /// Whom the stored answer is about, so that erasing them removes it.
    private static func createdID(in body: [UInt8]) -> UUID? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return nil }
        // A request case belongs to its subject: erasing them removes the stored answer (it holds their words).
        return ((object["subject_id"] ?? object["id"]) as? String).flatMap(UUID.init(uuidString:))
    }
}

private final class CollectedBody: @unchecked Sendable {
    var bytes: [UInt8] = []
}

/// Takes a response body's bytes instead of sending them, so they can be stored.
private struct CollectingWriter: ResponseBodyWriter {
    let collected: CollectedBody

    mutating func write(_ buffer: ByteBuffer) async throws {
        collected.bytes.append(contentsOf: buffer.readableBytesView)
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
