import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization
import TestSupport

/// A webhook receiver on 127.0.0.1 (a port of its own), started by a test: it keeps every request
/// and answers with the statuses it is told to, then 204, each after `delay`.
final class WebhookReceiver: Sendable {
    let delay: Duration
    /// Answers 200 at once, sends one byte of its body, and then nothing for ten seconds.
    let stallsBody: Bool
    /// Answers 307 with this Location instead.
    let redirect: String?

    init(delay: Duration = .zero, stallsBody: Bool = false, redirect: String? = nil) {
        self.delay = delay
        self.stallsBody = stallsBody
        self.redirect = redirect
    }

    struct Received: Sendable {
        let headers: [String: String]
        let body: [UInt8]

        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]) ?? [:] }
    }

    private let state = Mutex<(received: [Received], answers: [HTTPResponse.Status])>(([], []))
    private let port = Mutex<Int?>(nil)

    var received: [Received] { state.withLock { $0.received } }

    /// The next requests get these statuses, in order; the rest 204.
    func answer(_ statuses: [HTTPResponse.Status]) {
        state.withLock { $0.answers = statuses }
    }

    var url: String { "http://127.0.0.1:\(port.withLock { $0 } ?? 0)/hook" }

    /// Runs `body` while the receiver listens.
    func run<Result: Sendable>(_ body: @Sendable () async throws -> Result) async throws -> Result {
        let router = Router()
        router.post("/hook") { [self] request, _ -> Response in
            var request = request
            let buffer = try await request.collectBody(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName.lowercased()] = field.value }
            let status = state.withLock { state -> HTTPResponse.Status in
                state.received.append(Received(headers: headers, body: Array(buffer.readableBytesView)))
                return state.answers.isEmpty ? .noContent : state.answers.removeFirst()
            }
            if delay > .zero { try await Task.sleep(for: delay) }
            if let redirect {
                return Response(status: .temporaryRedirect, headers: [.location: redirect])
            }
            if stallsBody {
                return Response(
                    status: .ok,
                    body: ResponseBody(contentLength: 2) { writer in
                        try await writer.write(ByteBuffer(string: "{"))
                        try await Task.sleep(for: .seconds(10))
                        try await writer.write(ByteBuffer(string: "}"))
                        try await writer.finish(nil)
                    }
                )
            }
            return Response(status: status)
        }
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { [self] channel in port.withLock { $0 = channel.localAddress?.port } },
            logger: TestPostgres.logger
        )
        let server = Task { try await app.runService() }
        defer { server.cancel() }
        try await TestPostgres.waitUntil { port.withLock { $0 } != nil }
        return try await body()
    }
}
