import Synchronization

/// At most `max` holders at once; `enter` says whether the caller got in.
public final class InFlightLimit: Sendable {
    public let max: Int
    private let count = Atomic<Int>(0)

    public init(max: Int) { self.max = Swift.max(1, max) }

    public func enter() -> Bool {
        guard count.add(1, ordering: .relaxed).newValue <= max else {
            count.subtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    public func leave() { count.subtract(1, ordering: .relaxed) }
}
