import HummingbirdBcrypt
import NIOCore
import NIOPosix

/// Hashes and checks customer-area passwords with bcrypt. bcrypt is slow on purpose, so it runs
/// on NIO's shared blocking pool (its threads are neither event loops nor the database's), which
/// bounds how many run at once to the number of cores. How many may wait for it is bounded too:
/// beyond `maxInFlight`, a login or registration is refused at once (`DomainError.busy`) instead of
/// queueing behind a flood of them for ever longer.
public struct PasswordHasher: Sendable {
    /// bcrypt's work factor: 12 in production; tests use the minimum, 4.
    public let cost: UInt8
    private let inFlight: InFlightLimit

    public init(cost: UInt8 = 12, maxInFlight: Int = 2 * System.coreCount) {
        self.cost = min(max(cost, 4), 31)
        self.inFlight = InFlightLimit(max: maxInFlight)
    }

    private func run<Result: Sendable>(_ work: @escaping @Sendable () -> Result) async throws -> Result {
        guard inFlight.enter() else { throw DomainError.busy("too many password checks at once; try again in a moment") }
        defer { inFlight.leave() }
        return try await NIOThreadPool.singleton.runIfActive(work)
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
        try await run { [cost] in Bcrypt.hash(password, cost: cost) }
    }

    /// Whether `password` matches `hash`. With no hash (unknown email, invitation not taken up)
    /// the password is hashed anyway, so that the answer takes as long and is no.
    func verify(_ password: String, against hash: String?) async throws -> Bool {
        try await run { [cost] in
            guard let hash else {
                _ = Bcrypt.hash(password, cost: cost)
                return false
            }
            return Bcrypt.verify(password, hash: hash)
        }
    }
}
