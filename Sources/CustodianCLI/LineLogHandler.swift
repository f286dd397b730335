import Foundation
import Logging
import Synchronization

/// One line per log event: `<UTC time> <level> <label>: <key=value…> [<source>] <message>`.
///
/// swift-log's `StreamLogHandler` renders a logger's metadata again on every change, and the
/// server changes it on every request (request id, staff id) while logging nothing below
/// `warning` in production; this handler renders metadata only for a line it writes.
struct LineLogHandler: LogHandler {
    enum Stream: Sendable { case standardOutput, standardError }

    let label: String
    let stream: Stream
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let explicit = event.metadata { merged.merge(explicit) { _, explicit in explicit } }
        if let error = event.error {
            merged["error.message"] = "\(error)"
            merged["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        let rendered = merged.sorted { $0.key < $1.key }.map { " \($0.key)=\($0.value)" }.joined()
        let line = "\(Self.timestamp()) \(event.level) \(label):\(rendered) [\(event.source)] \(event.message)\n"
        let descriptor = stream == .standardOutput ? STDOUT_FILENO : STDERR_FILENO
        // Whole lines under one lock, so lines of concurrent requests never interleave.
        Self.writing.withLock { _ in
            var bytes = Array(line.utf8)[...]
            while !bytes.isEmpty {
                let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return }
                bytes = bytes.dropFirst(written)
            }
        }
    }

    private static let writing = Mutex(())

    private static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let length = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%SZ", &parts)
        return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
