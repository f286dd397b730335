import CustodianCore
import CustodianHTTP
import Foundation
import Logging
import NIOCore
import NIOPosix
import Postgres
import Synchronization
import TestSupport
import Testing

/// The production application on 127.0.0.1, against clients that send slowly or not at all.
@Suite("Slow clients cannot take the public side down")
struct SlowClientTests {
    /// Runs the server `buildApplication` makes on a port of its own while `body` runs.
    private func withServer(_ settings: ServerSettings, _ body: @Sendable (Int) async throws -> Void) async throws {
        try await withServer(settings) { port, _ in try await body(port) }
    }

    private func withServer(_ settings: ServerSettings, _ body: @Sendable (Int, TestDatabase) async throws -> Void) async throws {
        try await TestPostgres.shared.withDatabase { database in
            var settings = settings
            settings.host = "127.0.0.1"
            settings.port = 0
            let port = Mutex<Int?>(nil)
            let app = buildApplication(
                settings: settings, database: database.makePool(role: .api), publicDatabase: database.makePool(role: .api),
                logger: TestPostgres.logger, onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port } }
            )
            let server = Task { try await app.runService() }
            do {
                try await TestPostgres.waitUntil { port.withLock { $0 } != nil }
                try await body(try #require(port.withLock { $0 }), database)
            } catch {
                server.cancel()
                _ = await server.result
                throw error
            }
            server.cancel()
            _ = await server.result
        }
    }

    /// A connection that sends `text` and then reads until the server closes it or `limit` passes.
    private static func exchange(port: Int, _ text: String, limit: Duration = .seconds(5)) async throws -> String {
        let channel = try await connect(port: port)
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: text))
            return try await withDeadlineOrPartial(limit) {
                var answer = ""
                for try await chunk in inbound { answer += String(buffer: chunk) }
                return answer
            }
        }
    }

    private static func connect(port: Int) async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
        }
    }

    private static func withDeadlineOrPartial(_ limit: Duration, _ work: @escaping @Sendable () async throws -> String) async throws
        -> String
    {
        try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask { try await work() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            return try await group.next().flatMap { $0 } ?? "(no complete answer within \(limit))"
        }
    }

    @Test func dribblingBodiesHoldNoPublicSlot() async throws {
        // 16 slots, and 100 connections that each send a request head and one byte of its body.
        let settings = ServerSettings(publicMaxConcurrent: 16, publicBodyReadTimeout: .seconds(3))
        try await withServer(settings) { port in
            var dribblers: [any Channel] = []
            for _ in 0..<100 {
                let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .connect(host: "127.0.0.1", port: port).get()
                try await channel.writeAndFlush(
                    ByteBuffer(
                        string: "POST /v1/portal/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                            + "Content-Length: 100\r\n\r\n{"))
                dribblers.append(channel)
            }
            defer { for dribbler in dribblers { dribbler.close(promise: nil) } }
            try await Task.sleep(for: .milliseconds(300))
            // Every other public request is still answered.
            for _ in 0..<5 {
                let answer = try await Self.exchange(
                    port: port, "GET /v1/public/keys HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer.prefix(200))")
            }
        }
    }

    @Test func aBodyThatDoesNotArriveInTimeIsRefusedAndTheConnectionClosed() async throws {
        try await withServer(ServerSettings(publicBodyReadTimeout: .seconds(1))) { port in
            let started = ContinuousClock.now
            let answer = try await Self.exchange(
                port: port,
                "POST /v1/portal/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
                limit: .seconds(5))
            #expect(answer.hasPrefix("HTTP/1.1 408"), "\(answer.prefix(200))")
            #expect(answer.contains("urn:custodian:problem:request-timeout"))
            #expect(ContinuousClock.now - started < .seconds(4), "the server closed the connection after answering")
        }
    }

    @Test func anExportWhoseReaderStopsReadingGivesItsConnectionBack() async throws {
        try await withServer(ServerSettings(exportStallTimeout: .seconds(1))) { port, database in
            // A lead whose export is about 20 MB: far more than the sockets between us buffer.
            let (key, lead) = try await database.withPool { superuser in
                let key = try await StaffDirectory(database: superuser).bootstrapKey(
                    staffName: "Ada Admin", email: nil, role: .admin, keyName: "tests"
                ).key
                let lead: String = try await superuser.query(
                    "INSERT INTO leads (name) VALUES ('Ada Lovelace') RETURNING id::text AS id"
                ).single().decode("id")
                try await superuser.execute(
                    "INSERT INTO lead_notes (lead_id, body) SELECT $1::uuid, repeat('x', 10000) FROM generate_series(1, 2000)", [lead])
                return (key, lead)
            }
            // Asks for the export and never reads a byte of it.
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelOption(.socketOption(.so_rcvbuf), value: 4096)
                .connect(host: "127.0.0.1", port: port).get()
            try await channel.setOption(.autoRead, value: false)
            try await channel.writeAndFlush(
                ByteBuffer(string: "GET /v1/leads/\(lead)/export HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(key)\r\n\r\n"))
            defer { channel.close(promise: nil) }
            // The export's transaction starts, stalls on the reader, and is given up.
            try await database.withPool { superuser in
                let exporting =
                    "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'"
                try await TestPostgres.waitUntil(timeout: .seconds(10)) { try await superuser.query(exporting).single().decode("n") == 1 }
                try await TestPostgres.waitUntil(timeout: .seconds(5)) { try await superuser.query(exporting).single().decode("n") == 0 }
            }
            // Nothing was recorded as exported.
            let recorded: Int = try await database.withPool { superuser in
                try await superuser.query("SELECT count(*) AS n FROM exports").single().decode("n")
            }
            #expect(recorded == 0)
        }
    }

    @Test func aConnectionThatSendsNoRequestIsClosedWhenIdle() async throws {
        try await withServer(ServerSettings(idleTimeout: .seconds(1))) { port in
            let started = ContinuousClock.now
            // Half a request head, then nothing.
            let answer = try await Self.exchange(port: port, "GET /v1/public/keys HTTP/1.1\r\nHost: 1", limit: .seconds(6))
            #expect(!answer.hasPrefix("(no complete answer"), "the server kept the connection open")
            #expect(ContinuousClock.now - started < .seconds(4))
        }
    }
}
