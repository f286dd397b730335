import Foundation
import Postgres

/// Stored answers of creates sent with an Idempotency-Key, per staff member, for 24 hours.
///
/// Used inside one ambient transaction with the create itself: `claim` inserts the key first, so
/// a concurrent request with the same key waits on it and then reads the stored answer; `store`
/// writes the answer before the commit. A create that fails leaves no key behind.
public struct IdempotencyKeys: Sendable {
    let database: PostgresPool

    public init(database: PostgresPool) { self.database = database }

    public struct StoredResponse: Sendable {
        public let status: Int
        public let headers: [String: String]
        public let body: [UInt8]

        public init(status: Int, headers: [String: String], body: [UInt8]) {
            self.status = status
            self.headers = headers
            self.body = body
        }
    }

    public enum Claim: Sendable {
        /// The key is new: go on, then `store` the answer.
        case claimed
        /// The same request was answered before: send this again.
        case replay(StoredResponse)
        /// The key was used for another request.
        case reusedForAnotherRequest
    }

    public func claim(staffID: UUID, key: String, requestHash: [UInt8]) async throws -> Claim {
        try await database.execute(
            "DELETE FROM idempotency_keys WHERE staff_id = $1 AND key = $2 AND expires_at <= now()", [staffID, key]
        )
        let inserted = try await database.query(
            """
            INSERT INTO idempotency_keys (staff_id, key, request_hash, status, response_headers, response_body)
            VALUES ($1, $2, $3, 0, '{}', '') ON CONFLICT (staff_id, key) DO NOTHING RETURNING 1
            """,
            [staffID, key, requestHash]
        )
        if !inserted.isEmpty { return .claimed }
        let row = try await database.query(
            "SELECT request_hash, status, response_headers, response_body FROM idempotency_keys WHERE staff_id = $1 AND key = $2",
            [staffID, key]
        ).single()
        let storedHash: [UInt8] = try row.decode("request_hash")
        guard storedHash == requestHash else { return .reusedForAnotherRequest }
        return .replay(
            StoredResponse(
                status: try row.decode("status"),
                headers: try row.decode("response_headers", as: JSONB<[String: String]>.self).value,
                body: try row.decode("response_body")
            )
        )
    }

    public func store(staffID: UUID, key: String, response: StoredResponse, subjectID: UUID?) async throws {
        try await database.execute(
            """
            UPDATE idempotency_keys SET status = $3, response_headers = $4, response_body = $5, subject_id = $6
            WHERE staff_id = $1 AND key = $2
            """,
            [staffID, key, response.status, JSONB(response.headers), response.body, subjectID]
        )
    }

    /// Removes keys older than a day (by the expiry index).
    @discardableResult
    public func purgeExpired() async throws -> Int {
        try await database.execute("DELETE FROM idempotency_keys WHERE expires_at <= now()")
    }
}
