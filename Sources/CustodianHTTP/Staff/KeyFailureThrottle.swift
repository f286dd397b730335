import Foundation
import Synchronization

/// Failed API keys per client address, in this process: after a few, each further attempt from
/// the address must wait twice as long as the last (up to 15 minutes). The count is forgotten only
/// after `forgetAfter` without a failure — never by a success, or an attacker would use a key of
/// their own between guesses at others'.
///
/// Per process on purpose: every staff request asks it, and with no failing address it costs one
/// atomic load. Keys are 256-bit random, so what it protects is the staff pool, not the keys; with
/// N instances an address is answered up to N × (`freeFailures` + 1) times before it waits
/// everywhere (the README's documented bound; scripts/two-instances shows it).
final class KeyFailureThrottle: Sendable {
    struct Entry {
        var failures: Int
        var blockedUntil: ContinuousClock.Instant
        var lastFailure: ContinuousClock.Instant
    }

    let forgetAfter: Duration = .seconds(900)

    let freeFailures: Int
    let maxEntries: Int
    private let entries = Mutex<[String: Entry]>([:])
    /// How many addresses are tracked, readable without the lock: the common case (none) costs
    /// a caller no address formatting and no lock.
    private let tracked = Atomic<Int>(0)

    /// Whether no address is tracked: then nobody waits.
    var isQuiet: Bool { tracked.load(ordering: .relaxed) == 0 }

    init(freeFailures: Int = 5, maxEntries: Int = 50_000) {
        self.freeFailures = freeFailures
        self.maxEntries = maxEntries
    }

    /// Seconds the address must still wait, or nil when it may try.
    func wait(for address: String) -> Int? {
        let now = ContinuousClock.now
        return entries.withLock { entries in
            guard let entry = entries[address] else { return nil }
            guard entry.blockedUntil > now else {
                // Its count would start afresh at the next failure anyway.
                if now - entry.lastFailure > forgetAfter {
                    entries[address] = nil
                    tracked.store(entries.count, ordering: .relaxed)
                }
                return nil
            }
            return max(1, Int((entry.blockedUntil - now).components.seconds) + 1)
        }
    }

    func failed(_ address: String) {
        let now = ContinuousClock.now
        entries.withLock { entries in
            if entries.count >= maxEntries {
                // Under a flood from many addresses, the ones no longer waiting go first.
                entries = entries.filter { $0.value.blockedUntil > now || now - $0.value.lastFailure <= forgetAfter }
                if entries.count >= maxEntries { entries.removeAll(keepingCapacity: true) }
            }
            var entry = entries[address] ?? Entry(failures: 0, blockedUntil: now, lastFailure: now)
            if now - entry.lastFailure > forgetAfter { entry.failures = 0 }
            entry.lastFailure = now
            entry.failures += 1
            if entry.failures > freeFailures {
                let seconds = min(900, 1 << min(entry.failures - freeFailures - 1, 10))
                entry.blockedUntil = now + .seconds(seconds)
            }
            entries[address] = entry
            tracked.store(entries.count, ordering: .relaxed)
        }
    }
}
