import CustodianHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import TestSupport
import Testing

@Suite("CORS: only the origins on the list, never a wildcard, never credentials")
struct CORSTests {
    static let app = "https://app.example.com"

    /// Sent past the contract check: a preflight is the browser's, not an operation of the API.
    static func raw(
        _ client: ContractClient, _ method: HTTPRequest.Method, _ path: String, _ fields: [(HTTPField.Name, String)]
    ) async throws -> TestResponse {
        var headers = HTTPFields()
        for (name, value) in fields { headers[name] = value }
        return try await client.client.execute(uri: path, method: method, headers: headers, body: nil)
    }

    @Test func anAllowedOriginGetsItsPreflightAndReadsAnswersAndErrors() async throws {
        var settings = ServerSettings()
        settings.corsOrigins = [Self.app, "http://localhost:3000/"]
        try await StaffFixture.withApp(settings: settings) { fixture, client in
            let preflight = try await Self.raw(
                client, .options, "/v1/leads",
                [(.origin, Self.app), (.accessControlRequestMethod, "PATCH"), (.accessControlRequestHeaders, "authorization, if-match")])
            #expect(preflight.status == .noContent)
            #expect(preflight.headers[.accessControlAllowOrigin] == Self.app)
            #expect(preflight.headers[.accessControlAllowMethods]?.contains("PATCH") == true)
            for header in ["Authorization", "Content-Type", "If-Match", "If-None-Match", "Idempotency-Key"] {
                #expect(preflight.headers[.accessControlAllowHeaders]?.contains(header) == true, "\(header)")
            }
            #expect(preflight.headers[.accessControlAllowCredentials] == nil)

            let read = try await Self.raw(
                client, .get, "/v1/leads", [(.origin, "http://localhost:3000"), (.authorization, "Bearer \(fixture.adminKey)")])
            #expect(read.status == .ok)
            #expect(read.headers[.accessControlAllowOrigin] == "http://localhost:3000")
            #expect(read.headers[.accessControlExposeHeaders]?.contains("ETag") == true)
            #expect(read.headers[.accessControlExposeHeaders]?.contains("Location") == true)
            #expect(read.headers[.vary]?.contains("Origin") == true)

            // An error's answer is readable too: the browser shows the problem, not a CORS failure.
            let refused = try await Self.raw(client, .get, "/v1/leads", [(.origin, Self.app)])
            #expect(refused.status == .unauthorized)
            #expect(refused.headers[.accessControlAllowOrigin] == Self.app)
        }
    }

    @Test func anyOtherOriginGetsNoCORSHeadersAndNoPreflight() async throws {
        var settings = ServerSettings()
        settings.corsOrigins = [Self.app]
        try await StaffFixture.withApp(settings: settings) { fixture, client in
            for origin in ["https://evil.example", "https://app.example.com.evil.example", "http://app.example.com", "null"] {
                let preflight = try await Self.raw(
                    client, .options, "/v1/leads", [(.origin, origin), (.accessControlRequestMethod, "GET")])
                #expect(preflight.status != .noContent, "\(origin)")
                #expect(preflight.headers[.accessControlAllowOrigin] == nil, "\(origin)")
                let read = try await Self.raw(
                    client, .get, "/v1/leads", [(.origin, origin), (.authorization, "Bearer \(fixture.adminKey)")])
                #expect(read.headers[.accessControlAllowOrigin] == nil, "\(origin)")
                #expect(read.headers[.vary]?.contains("Origin") == true, "\(origin)")
            }
        }
        // Without a list, no origin is allowed.
        try await StaffFixture.withApp { _, client in
            let preflight = try await Self.raw(client, .options, "/v1/leads", [(.origin, Self.app), (.accessControlRequestMethod, "GET")])
            #expect(preflight.headers[.accessControlAllowOrigin] == nil)
        }
    }
}
