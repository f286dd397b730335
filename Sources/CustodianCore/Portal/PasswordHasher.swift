import HummingbirdBcrypt
import NIOPosix

/// Hashes and checks customer-area passwords with bcrypt. bcrypt is slow on purpose, so it runs
/// on NIO's shared blocking pool (its threads are neither event loops nor the database's), which
/// also bounds how many run at once to the number of cores.
public struct PasswordHasher: Sendable {
    /// bcrypt's work factor: 12 in production; tests use the minimum, 4.
    public let cost: UInt8

    public init(cost: UInt8 = 12) {
        self.cost = min(max(cost, 4), 31)
    }

    /// What a password must be: bcrypt reads only the first 72 bytes, so longer ones are refused
    /// rather than silently cut.
    public static func problems(with password: String) -> String? {
        if password.count < 10 { return "must be at least 10 characters" }
        if password.utf8.count > 72 { return "must be at most 72 bytes (UTF-8)" }
        if password.utf8.contains(0) { return "must not contain NUL bytes" }
        return nil
    }

    func hash(_ password: String) async throws -> String {
        try await NIOThreadPool.singleton.runIfActive { [cost] in Bcrypt.hash(password, cost: cost) }
    }

    /// Whether `password` matches `hash`. With no hash (unknown email, invitation not taken up)
    /// the password is hashed anyway, so that the answer takes as long and is no.
    func verify(_ password: String, against hash: String?) async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive { [cost] in
            guard let hash else {
                _ = Bcrypt.hash(password, cost: cost)
                return false
            }
            return Bcrypt.verify(password, hash: hash)
        }
    }
}
