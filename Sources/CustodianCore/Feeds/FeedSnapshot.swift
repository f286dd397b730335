/// A PostgreSQL snapshot (`pg_snapshot`): which transactions had committed when a poll began.
/// Transactions below `xmin` had ended; those from `xmax` on had not started; in between, those
/// listed in `running` were still running.
public struct FeedSnapshot: Sendable, Equatable {
    public let xmin: UInt64
    public let xmax: UInt64
    public let running: [UInt64]

    public init?(xmin: UInt64, xmax: UInt64, running: [UInt64]) {
        guard xmin <= xmax, running.allSatisfy({ (xmin..<xmax).contains($0) }),
            zip(running, running.dropFirst()).allSatisfy({ $0 < $1 })
        else { return nil }
        self.xmin = xmin
        self.xmax = xmax
        self.running = running
    }

    /// Parses PostgreSQL's text form, `xmin:xmax:xip,xip,...`.
    public init?(text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, let xmin = UInt64(parts[0]), let xmax = UInt64(parts[1]) else { return nil }
        var running: [UInt64] = []
        if !parts[2].isEmpty {
            for item in parts[2].split(separator: ",", omittingEmptySubsequences: false) {
                guard let xid = UInt64(item) else { return nil }
                running.append(xid)
            }
        }
        self.init(xmin: xmin, xmax: xmax, running: running)
    }

    public var text: String { "\(xmin):\(xmax):" + running.map(String.init).joined(separator: ",") }

    /// Whether everything this snapshot saw committed, `other` saw too: the later of two polls.
    func isOlder(than other: FeedSnapshot) -> Bool { xmax < other.xmax || (xmax == other.xmax && xmin < other.xmin) }
}
