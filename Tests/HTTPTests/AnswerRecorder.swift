import Foundation
import Testing

/// Writes every answer the tests receive, one file per test, when `CUSTODIAN_RECORD_ANSWERS` names
/// a directory. Refactors that promise "no client-visible change" are held to it by recording
/// before and after and comparing the two directories (`diff -r`).
///
/// What changes from run to run is replaced by placeholders: ids become `<id-N>` in order of first
/// appearance within the test, times become `<time>`, and long random tokens become `<token>`.
/// Everything else (status, the headers a client reads, the body's bytes) stays as sent.
enum AnswerRecorder {
    static let directory: URL? = ProcessInfo.processInfo.environment["CUSTODIAN_RECORD_ANSWERS"].map {
        URL(fileURLWithPath: $0, isDirectory: true)
    }

    private static let headersRecorded: Set<String> = [
        "Content-Type", "Location", "ETag", "Retry-After", "Cache-Control", "Content-Disposition",
        "Idempotent-Replayed", "Allow", "WWW-Authenticate",
    ]

    static func record(method: String, uri: String, status: Int, headers: [String: String], body: Data) {
        guard let directory, let test = Test.current else { return }
        var entry = "\(method) \(uri)\n\(status)\n"
        // Header names arrive lowercased (HTTP/2's canonical form); the set holds them as written.
        let received = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first })
        for name in headersRecorded.sorted() {
            if let value = received[name.lowercased()] { entry += "\(name): \(value)\n" }
        }
        entry += String(decoding: body, as: UTF8.self) + "\n\n"
        let name = "\(test.id)".replacingOccurrences(of: "/", with: "_")
        let file = directory.appendingPathComponent(name + ".raw")
        lock.withLock {
            if let handle = try? FileHandle(forWritingTo: file) {
                handle.seekToEndOfFile()
                handle.write(Data(entry.utf8))
                try? handle.close()
            } else {
                try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                try? Data(entry.utf8).write(to: file)
            }
        }
    }

    private static let lock = NSLock()
}
