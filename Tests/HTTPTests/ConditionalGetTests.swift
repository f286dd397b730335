import CustodianCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import TestSupport
import Testing

@Suite("If-None-Match: a client re-downloads a record only after it changed")
struct ConditionalGetTests {
    @Test func anUnchangedRevisionIs304WithNoBodyAndAChangedOneIsTheRecord() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            let lead = try await client.create("/v1/leads", key: admin, #"{"name": "Cached Once"}"#)
            let id = try #require(lead["id"] as? String)
            func read(_ path: String, ifNoneMatch: String?) async throws -> TestResponse {
                var fields = headers(key: admin)
                if let ifNoneMatch { fields[.ifNoneMatch] = ifNoneMatch }
                return try await client.send(.get, path, headers: fields)
            }
            let first = try await read("/v1/leads/\(id)", ifNoneMatch: nil)
            #expect(first.status == .ok && first.headers[.eTag] == "\"1\"")

            for held in [#""1""#, #"W/"1""#, #""7", "1""#, "*"] {
                let unchanged = try await read("/v1/leads/\(id)", ifNoneMatch: held)
                #expect(unchanged.status == .notModified, "\(held)")
                #expect(unchanged.body.readableBytes == 0, "\(held)")
                #expect(unchanged.headers[.eTag] == "\"1\"", "\(held)")
            }
            let patched = try await client.send(
                .patch, "/v1/leads/\(id)", headers: headers(key: admin, json: true, ifMatch: "\"1\""), body: #"{"status": "contacted"}"#)
            #expect(patched.status == .ok)
            let changed = try await read("/v1/leads/\(id)", ifNoneMatch: #""1""#)
            #expect(changed.status == .ok && changed.headers[.eTag] == "\"2\"")
            #expect(changed.text == patched.text)

            // Settings carry a revision too; a list has none and is always sent.
            let settings = try await read("/v1/settings/consent", ifNoneMatch: nil)
            let held = try #require(settings.headers[.eTag])
            #expect(try await read("/v1/settings/consent", ifNoneMatch: held).status == .notModified)
            #expect(try await read("/v1/leads", ifNoneMatch: "*").status == .ok)
            // A missing record is still a 404, whatever the client holds.
            #expect(try await read("/v1/leads/\(UUID().uuidString.lowercased())", ifNoneMatch: "*").status == .notFound)
        }
    }
}
