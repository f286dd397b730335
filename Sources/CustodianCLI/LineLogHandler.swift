import CustodianHTTP
import Foundation
import Logging
import Synchronization

/// One line per log event, as `LogLine` renders it: `<UTC time> <level> <label>: <key=value…>
/// [<source>] <message>`, or one JSON object (`CUSTODIAN_LOG_FORMAT=json`).
///
/// swift-log's `StreamLogHandler` renders a logger's metadata again on every change, and the
/// server changes it on every request (request id, staff id) while logging nothing below
/// `warning` in production; this handler renders metadata only for a line it writes.
struct LineLogHandler: LogHandler {
    enum Stream: Sendable { case standardOutput, standardError }

    let label: String
    let stream: Stream
    let format: LogLine.Format
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
        let line =
            LogLine.render(
                format, time: Date(), level: event.level, label: label, source: event.source, message: "\(event.message)",
                metadata: merged) + "\n"
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
}
