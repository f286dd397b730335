import Foundation

/// Where a feed's reader stands: for each range of record ids (in PostgreSQL's uuid order), the
/// snapshot of the poll that last served it, or none when the range was never served (a full
/// snapshot that broke off). A completed poll leaves one range, all ids, served at its snapshot;
/// a poll that breaks off after record X leaves "up to X: this poll; after X: as before".
///
/// Sent as compact base64url bytes: version, feed, range count, then per range its upper bound
/// (16 bytes, all but the last) and its snapshot (varints: xmin, xmax - xmin, running count,
/// running - xmin each), or a zero byte for "never served".
public struct FeedCursor: Sendable, Equatable {
    public struct Range: Sendable, Equatable {
        /// The last id of the range; nil for the last range, which runs to the end.
        public var upperBound: UUID?
        public var served: FeedSnapshot?
    }

    public let feed: Feeds.Feed
    public private(set) var ranges: [Range]

    /// The most ranges a cursor holds; past it, two are joined (see `joiningOldest`).
    static let maximumRanges = 16

    /// Nothing served yet: a poll from here is a full snapshot.
    public static func start(_ feed: Feeds.Feed) -> FeedCursor {
        FeedCursor(feed: feed, ranges: [Range(upperBound: nil, served: nil)])
    }

    /// Everything served as of `snapshot`.
    static func complete(_ feed: Feeds.Feed, at snapshot: FeedSnapshot) -> FeedCursor {
        FeedCursor(feed: feed, ranges: [Range(upperBound: nil, served: snapshot)])
    }

    /// The cursor after a line for record `id` served by a poll at `snapshot`: ids up to `id`
    /// are served as of `snapshot`, the rest stay as they were.
    func served(through id: UUID, at snapshot: FeedSnapshot) -> FeedCursor {
        var later = ranges.drop { range in range.upperBound.map { Self.compare($0, id) <= 0 } ?? false }
        var head = Range(upperBound: id, served: snapshot)
        if let next = later.first, next.served == snapshot {
            head.upperBound = next.upperBound
            later = later.dropFirst()
        }
        var result = FeedCursor(feed: feed, ranges: [head] + later)
        while result.ranges.count > Self.maximumRanges { result.joinOldestPair() }
        return result
    }

    /// Joins the first two ranges after the head, keeping the older snapshot: a reader that keeps
    /// breaking off polls after a line or two may get some records again, never miss one.
    private mutating func joinOldestPair() {
        let first = ranges[1]
        let second = ranges[2]
        let older: FeedSnapshot?
        switch (first.served, second.served) {
        case (nil, _), (_, nil): older = nil
        case (let a?, let b?): older = a.isOlder(than: b) ? a : b
        }
        ranges.replaceSubrange(1...2, with: [Range(upperBound: second.upperBound, served: older)])
    }

    /// PostgreSQL orders uuids by their bytes.
    static func compare(_ a: UUID, _ b: UUID) -> Int {
        withUnsafeBytes(of: a.uuid) { left in
            withUnsafeBytes(of: b.uuid) { right in
                for index in 0..<16 where left[index] != right[index] { return left[index] < right[index] ? -1 : 1 }
                return 0
            }
        }
    }

    // MARK: - Text

    public var text: String {
        var output: [UInt8] = []
        encode(into: &output)
        return String(decoding: output, as: UTF8.self)
    }

    /// Appends the cursor, as base64url (RFC 4648, section 5, no padding), to a feed line.
    func encode(into output: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64 + 40 * ranges.count + 10 * runningCount) { bytes in
            var count = 0
            func append(_ byte: UInt8) {
                bytes[count] = byte
                count += 1
            }
            func appendVarint(_ value: UInt64) {
                var rest = value
                while rest >= 0x80 {
                    append(UInt8(rest & 0x7F) | 0x80)
                    rest >>= 7
                }
                append(UInt8(rest))
            }
            append(1)
            append(feed.code)
            append(UInt8(ranges.count))
            for (index, range) in ranges.enumerated() {
                if index < ranges.count - 1, let bound = range.upperBound {
                    withUnsafeBytes(of: bound.uuid) { for byte in $0 { append(byte) } }
                }
                guard let snapshot = range.served else {
                    append(0)
                    continue
                }
                append(1)
                appendVarint(snapshot.xmin)
                appendVarint(snapshot.xmax - snapshot.xmin)
                appendVarint(UInt64(snapshot.running.count))
                for xid in snapshot.running { appendVarint(xid - snapshot.xmin) }
            }
            Base64URL.append(UnsafeBufferPointer(rebasing: bytes[0..<count]), to: &output)
        }
    }

    private var runningCount: Int { ranges.reduce(0) { $0 + ($1.served?.running.count ?? 0) } }

    /// Reads a cursor this server issued for `feed`; nil for anything else.
    public init?(text: String, feed: Feeds.Feed) {
        guard (1...4096).contains(text.utf8.count), let bytes = Base64URL.decode(text) else { return nil }
        var reader = ByteReader(bytes: bytes)
        guard reader.byte() == 1, reader.byte() == feed.code, let count = reader.byte(), (1...Self.maximumRanges).contains(Int(count))
        else { return nil }
        var ranges: [Range] = []
        for index in 0..<Int(count) {
            var bound: UUID?
            if index < Int(count) - 1 {
                guard let raw = reader.bytes(16) else { return nil }
                bound = raw.withUnsafeBytes { UUID(uuid: $0.loadUnaligned(as: uuid_t.self)) }
                if let previous = ranges.last?.upperBound, let bound, Self.compare(previous, bound) >= 0 { return nil }
            }
            switch reader.byte() {
            case 0: ranges.append(Range(upperBound: bound, served: nil))
            case 1:
                guard let xmin = reader.varint(), let span = reader.varint(), let runningCount = reader.varint(),
                    runningCount <= 100_000, xmin <= UInt64(Int64.max), span <= UInt64(Int64.max) - xmin
                else { return nil }
                var running: [UInt64] = []
                for _ in 0..<runningCount {
                    guard let offset = reader.varint(), offset < span else { return nil }
                    running.append(xmin + offset)
                }
                guard let snapshot = FeedSnapshot(xmin: xmin, xmax: xmin + span, running: running) else { return nil }
                ranges.append(Range(upperBound: bound, served: snapshot))
            default: return nil
            }
        }
        guard reader.atEnd else { return nil }
        self.feed = feed
        self.ranges = ranges
    }

    private init(feed: Feeds.Feed, ranges: [Range]) {
        self.feed = feed
        self.ranges = ranges
    }

    private struct ByteReader {
        let bytes: [UInt8]
        var position = 0

        var atEnd: Bool { position == bytes.count }

        mutating func byte() -> UInt8? {
            guard position < bytes.count else { return nil }
            defer { position += 1 }
            return bytes[position]
        }

        mutating func bytes(_ count: Int) -> [UInt8]? {
            guard bytes.count - position >= count else { return nil }
            defer { position += count }
            return Array(bytes[position..<position + count])
        }

        mutating func varint() -> UInt64? {
            var value: UInt64 = 0
            for shift in stride(from: 0, to: 64, by: 7) {
                guard let next = byte() else { return nil }
                value |= UInt64(next & 0x7F) << UInt64(shift)
                if next < 0x80 { return value }
            }
            return nil
        }
    }
}
