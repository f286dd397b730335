import CustodianHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

@Suite("Every error is problem+json with a stable type and the request id")
struct ProblemResponseTests {
    /// A JSON endpoint that exists only in these tests, to exercise body decoding end to end.
    struct Greeting: Codable {
        let name: String
        let times: Int
    }

    static func echoRoute(_ routes: inout RouteTable) {
        routes.on(.post, "/test-only/echo") { request, _ in
            let greeting = try await JSONBody.decode(Greeting.self, from: request)
            return JSONBody.response(.object(["name": .string(greeting.name), "times": .integer(greeting.times)]))
        }
    }

    private func expectProblem(_ response: TestResponse, status: HTTPResponse.Status, type slug: String) throws {
        #expect(response.status == status)
        #expect(response.headers[.contentType] == "application/problem+json")
        let problem = try response.json()
        #expect(problem["type"] as? String == "urn:custodian:problem:\(slug)")
        #expect(problem["status"] as? Int == Int(status.code))
        #expect((problem["title"] as? String)?.isEmpty == false)
        #expect(problem["request_id"] as? String == response.headers[HTTPField.Name("X-Request-Id")!])
    }

    @Test func anUnknownPathIs404() async throws {
        let pool = TestPostgres.unreachablePool()
        try await withApp(database: pool) { client in
            let response = try await client.send(.get, "/no/such/thing")
            try expectProblem(response, status: .notFound, type: "not-found")
            // Paths can hold personal links; a problem never echoes them.
            #expect(try response.json()["instance"] == nil)
            #expect(!response.text.contains("such/thing"))
        }
        await pool.close()
    }

    @Test func anUnsupportedMethodIs405WithAllow() async throws {
        let pool = TestPostgres.unreachablePool()
        try await withApp(database: pool) { client in
            let response = try await client.send(.delete, "/healthz")
            try expectProblem(response, status: .methodNotAllowed, type: "method-not-allowed")
            #expect(response.headers[.allow] == "GET")
        }
        await pool.close()
    }

    @Test func anOversizedBodyIs413() async throws {
        let pool = TestPostgres.unreachablePool()
        let settings = ServerSettings(maxBodyBytes: 1024)
        try await withApp(database: pool, settings: settings, extraRoutes: Self.echoRoute) { client in
            let big = String(repeating: "x", count: 5000)
            let body = #"{"name": "\#(big)", "times": 1}"#
            var declared = HTTPFields()
            declared[.contentType] = "application/json"
            declared[.contentLength] = "\(body.utf8.count)"
            try expectProblem(
                try await client.send(.post, "/test-only/echo", headers: declared, body: body),
                status: .contentTooLarge, type: "payload-too-large"
            )
            // Sent chunked, without a Content-Length, the limit holds as the body streams in.
            var chunked = HTTPFields()
            chunked[.contentType] = "application/json"
            chunked[.transferEncoding] = "chunked"
            try expectProblem(
                try await client.send(.post, "/test-only/echo", headers: chunked, body: body),
                status: .contentTooLarge, type: "payload-too-large"
            )
            // A large body on an endpoint that takes none is refused the same way.
            var plain = HTTPFields()
            plain[.contentLength] = "\(body.utf8.count)"
            try expectProblem(
                try await client.send(.get, "/healthz", headers: plain, body: body), status: .contentTooLarge, type: "payload-too-large")
            // A body within the limit passes.
            let small = #"{"name": "ok", "times": 1}"#
            declared[.contentLength] = "\(small.utf8.count)"
            #expect(try await client.send(.post, "/test-only/echo", headers: declared, body: small).status == .ok)
        }
        await pool.close()
    }

    @Test(arguments: [
        ("{", "the body is not valid JSON"),
        (#"{"name": 5, "times": 1}"#, "name must be string"),
        (#"{"name": "a"}"#, "times is required"),
        (#"{"name": null, "times": 1}"#, "name must be string, not null"),
        ("[1, 2]", "must be"),
        ("", "the body is not valid JSON"),
    ])
    func malformedJSONIs400(body: String, explanation: String) async throws {
        let pool = TestPostgres.unreachablePool()
        try await withApp(database: pool, extraRoutes: Self.echoRoute) { client in
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            let response = try await client.send(.post, "/test-only/echo", headers: headers, body: body)
            try expectProblem(response, status: .badRequest, type: "malformed-json")
            let detail = try response.json()["detail"] as? String
            #expect(detail?.contains(explanation) == true, "detail was \(detail ?? "nil")")
        }
        await pool.close()
    }

    @Test func invalidUTF8Is400() async throws {
        let pool = TestPostgres.unreachablePool()
        try await withApp(database: pool, extraRoutes: Self.echoRoute) { client in
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            let bytes: [UInt8] = Array(#"{"name": ""#.utf8) + [0xC3, 0x28, 0xFF] + Array(#"", "times": 1}"#.utf8)
            let response = try await client.send(.post, "/test-only/echo", headers: headers, bytes: bytes)
            try expectProblem(response, status: .badRequest, type: "malformed-json")
        }
        await pool.close()
    }

    @Test func aBodyThatIsNotJSONIs415() async throws {
        let pool = TestPostgres.unreachablePool()
        try await withApp(database: pool, extraRoutes: Self.echoRoute) { client in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain"
            let response = try await client.send(.post, "/test-only/echo", headers: headers, body: "name=a")
            try expectProblem(response, status: .unsupportedMediaType, type: "unsupported-media-type")
            headers[.contentType] = "application/json; charset=utf-8"
            let accepted = try await client.send(.post, "/test-only/echo", headers: headers, body: #"{"name":"a","times":2}"#)
            #expect(accepted.status == .ok)
        }
        await pool.close()
    }

    @Test func theRequestIDIsEchoedOrGenerated() async throws {
        let pool = TestPostgres.unreachablePool()
        try await withApp(database: pool) { client in
            var headers = HTTPFields()
            headers[HTTPField.Name("X-Request-Id")!] = "trace-abc-123"
            let echoed = try await client.send(.get, "/healthz", headers: headers)
            #expect(echoed.headers[HTTPField.Name("X-Request-Id")!] == "trace-abc-123")

            let generated = try await client.send(.get, "/healthz")
            let id = try #require(generated.headers[HTTPField.Name("X-Request-Id")!])
            #expect(UUID(uuidString: id) != nil)

            // A header that could forge log lines is replaced, not echoed.
            headers[HTTPField.Name("X-Request-Id")!] = String(repeating: "a", count: 300)
            let replaced = try await client.send(.get, "/healthz", headers: headers)
            #expect(replaced.headers[HTTPField.Name("X-Request-Id")!]?.count == 36)
        }
        await pool.close()
    }
}
