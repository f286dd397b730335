import Foundation
import Testing

@testable import CustodianCore

@Suite("Feed cursors: compact, exact, and refused when not issued here")
struct FeedCursorTests {
    static func snapshot(_ text: String) throws -> FeedSnapshot { try #require(FeedSnapshot(text: text)) }

    static func ids(_ count: Int) -> [UUID] {
        (0..<count).map { _ in UUID() }.sorted { FeedCursor.compare($0, $1) < 0 }
    }

    @Test func aCursorReadsBackAsItWasWritten() throws {
        let ids = Self.ids(20)
        var cursor = FeedCursor.start(.contacts)
        let snapshots = try ["100:105:101,103", "110:110:", "120:140:121,122,139"].map(Self.snapshot)
        // Three polls, each broken off after a line before the last one's.
        for (index, id) in ids.prefix(3).reversed().enumerated() { cursor = cursor.served(through: id, at: snapshots[index]) }
        #expect(cursor.ranges.map(\.served) == [snapshots[2], snapshots[1], snapshots[0], nil])
        #expect(cursor.ranges.map(\.upperBound) == [ids[0], ids[1], ids[2], nil])
        // Lines in order of id, as a poll serves them, move one bound.
        let onward = cursor.served(through: ids[1], at: snapshots[2])
        #expect(onward.ranges.map(\.upperBound) == [ids[1], ids[2], nil])
        let read = try #require(FeedCursor(text: cursor.text, feed: .contacts))
        #expect(read == cursor)
        #expect(FeedCursor(text: cursor.text, feed: .leads) == nil, "a cursor belongs to its feed")
        #expect(cursor.text.utf8.allSatisfy { $0 < 128 && !"+/=".utf8.contains($0) }, "base64url without padding")

        // A line past every bound leaves one range.
        let done = cursor.served(through: ids[19], at: snapshots[2])
        #expect(done.ranges.map(\.upperBound) == [ids[19], nil] && done.ranges.first?.served == snapshots[2])
    }

    @Test func aReaderThatKeepsBreakingOffIsBoundedAndNeverSkipsAhead() throws {
        let ids = Self.ids(40)
        var cursor = FeedCursor.complete(.leads, at: try Self.snapshot("1000:1000:"))
        // What each id was truly served up to (a snapshot's xmax stands for it).
        var truth = Dictionary(uniqueKeysWithValues: ids.map { ($0, UInt64(1000)) })
        // Each poll serves a line further back than the last: every one adds a range.
        for (poll, line) in ids.prefix(30).reversed().enumerated() {
            let xid = UInt64(2000 + poll)
            cursor = cursor.served(through: line, at: try Self.snapshot("\(xid):\(xid):"))
            for id in ids where FeedCursor.compare(id, line) <= 0 { truth[id] = xid }
            #expect(cursor.ranges.count <= FeedCursor.maximumRanges)
        }
        // Joining ranges keeps the older snapshot: a record may come again, never go missing.
        for id in ids {
            let range = try #require(cursor.ranges.first { $0.upperBound.map { FeedCursor.compare(id, $0) <= 0 } ?? true })
            let served = try #require(range.served?.xmax)
            #expect(served <= truth[id] ?? 0)
        }
        #expect(cursor.ranges.first?.served?.xmax == 2029, "the newest poll's lines are exact")
        #expect(FeedCursor(text: cursor.text, feed: .leads) == cursor)
    }

    @Test func forgedAndDamagedCursorsAreRefused() throws {
        let good = FeedCursor.complete(.customers, at: try Self.snapshot("5:9:6,8")).text
        for bad in ["", "=", "AQ", good + "A", String(good.dropLast()), String(repeating: "A", count: 5000), "****"] {
            #expect(FeedCursor(text: bad, feed: .customers) == nil, "\(bad)")
        }
        // Running transactions outside xmin..<xmax, or out of order, are no snapshot.
        for text in ["9:5:", "5:9:9", "5:9:8,6", "5:9:6,6", "x:9:", "5:9"] { #expect(FeedSnapshot(text: text) == nil, "\(text)") }
    }
}
