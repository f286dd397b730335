import Foundation
import Synchronization

/// Authenticated API keys, remembered for a moment so that a request does not pay a database
/// round trip to learn who sent it. An entry lives `lifetime` (one second by default): a key
/// revoked, or a member deactivated or given another role, through another server instance is
/// refused by this one within that time; through this instance, at once (the directory empties
/// the cache on every such change). Only keys that authenticated are kept, at most `capacity`.
public final class KeyCache: Sendable {
    struct Entry {
        let staff: AuthenticatedStaff
        let expires: ContinuousClock.Instant
    }

    let lifetime: Duration
    let capacity: Int
    private let entries = Mutex<[[UInt8]: Entry]>([:])

    public init(lifetime: Duration = .seconds(1), capacity: Int = 10_000) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    func staff(forKeyHash hash: [UInt8]) -> AuthenticatedStaff? {
        let now = ContinuousClock.now
        return entries.withLock { entries in
            guard let entry = entries[hash] else { return nil }
            guard entry.expires > now else {
                entries[hash] = nil
                return nil
            }
            return entry.staff
        }
    }

    func remember(_ staff: AuthenticatedStaff, forKeyHash hash: [UInt8]) {
        guard lifetime > .zero else { return }
        let now = ContinuousClock.now
        entries.withLock { entries in
            if entries.count >= capacity {
                entries = entries.filter { $0.value.expires > now }
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[hash] = Entry(staff: staff, expires: now + lifetime)
        }
    }

    /// Forgets every key: after a revocation, a deactivation or a role change.
    func removeAll() {
        entries.withLock { $0.removeAll(keepingCapacity: true) }
    }
}
