import CustodianCore
import Postgres

/// Failed portal logins per client address, counted in PostgreSQL so that every instance sees
/// one count: after `freeFailures`, each further attempt from the address must wait twice as
/// long as the last (up to 15 minutes), whichever instance it reaches. The count is forgotten
/// only after `forgetAfterSeconds` without a failure — never by a success, or an attacker would
/// log into an account of their own between guesses at others'. The account's own lock stops
/// guessing one password from many addresses; this stops one address from guessing many
/// accounts. Addresses are stored as a keyed hash.
///
/// A login already costs a bcrypt check and runs behind the public gate's rate limit, so the
/// round trip this adds to every attempt is not worth an in-process shortcut.
final class LoginFailures: Sendable {
    let database: PostgresPool
    let addressKey: ServerSecret
    let freeFailures: Int
    let forgetAfterSeconds = 900

    init(database: PostgresPool, addressKey: ServerSecret, freeFailures: Int = 5) {
        self.database = database
        self.addressKey = addressKey
        self.freeFailures = freeFailures
    }

    private func bucket(_ address: String) -> String {
        "portal-login:" + addressKey.addressHash(address)
    }

    /// Seconds the address must still wait, or nil when it may try.
    func wait(for address: String) async throws -> Int? {
        let rows = try await database.query(
            """
            SELECT ceil(extract(epoch FROM blocked_until - now()))::integer AS seconds
            FROM public.login_failures WHERE bucket = $1 AND blocked_until > now()
            """, [bucket(address)])
        guard let row = rows.first else { return nil }
        return max(1, try row.decode("seconds", as: Int.self))
    }

    /// Counts a failure of the address; concurrent failures queue on its row, so none is lost.
    func failed(_ address: String) async throws {
        try await database.execute(
            """
            INSERT INTO public.login_failures AS f (bucket, failures, last_failure) VALUES ($1, 1, now())
            ON CONFLICT (bucket) DO UPDATE SET (failures, last_failure, blocked_until) = (
                SELECT n, now(), CASE WHEN n > $2 THEN now() + least(900, 2 ^ least(n - $2 - 1, 10)) * interval '1 second' END
                FROM (SELECT CASE WHEN f.last_failure < now() - $3 * interval '1 second' THEN 1 ELSE f.failures + 1 END AS n) AS next)
            """, [bucket(address), freeFailures, forgetAfterSeconds])
    }

    /// Removes addresses neither waiting nor remembered any more (by the last_failure index).
    @discardableResult
    func sweep() async throws -> Int {
        try await database.execute(
            """
            DELETE FROM public.login_failures
            WHERE last_failure < now() - $1 * interval '1 second' AND (blocked_until IS NULL OR blocked_until < now())
            """, [forgetAfterSeconds])
    }
}
