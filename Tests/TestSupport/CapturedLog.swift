import Logging
import Synchronization

/// A log handler that keeps every entry, with all its metadata, for a test to read or search.
public final class CapturedLog: Sendable {
    public struct Entry: Sendable {
        public let level: Logger.Level
        public let message: String
        /// The logger's metadata and the entry's own, merged.
        public let metadata: Logger.Metadata

        /// The whole entry as one line: what a log file would hold.
        public var line: String {
            let rendered = metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            return "\(level) \(message) \(rendered)"
        }
    }

    private let entries = Mutex<[Entry]>([])

    public init() {}

    /// A logger at trace level that writes here.
    public func logger(label: String = "captured") -> Logger {
        var logger = Logger(label: label) { [self] _ in Handler(log: self) }
        logger.logLevel = .trace
        return logger
    }

    public var all: [Entry] { entries.withLock { $0 } }

    fileprivate func append(_ entry: Entry) {
        entries.withLock { $0.append(entry) }
    }

    private struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            log.append(Entry(level: event.level, message: "\(event.message)", metadata: metadata.merging(event.metadata ?? [:]) { $1 }))
        }
    }
}
