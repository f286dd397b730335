import CustodianCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import TestSupport
import Testing

@Suite("Every record type: the full lifecycle and its guards")
struct RecordLifecycleTests {
    struct Resource: Sendable, CustomTestStringConvertible {
        let path: String
        /// A valid create body; `%n` is replaced by a number to keep unique fields unique.
        let body: @Sendable (_ customerID: String, _ n: Int) -> String
        let patch: String
        let changedField: String
        var testDescription: String { path }
    }

    static let resources: [Resource] = [
        Resource(
            path: "/v1/leads", body: { _, n in #"{"name": "Lead \#(n)", "email": "lead\#(n)@example.org"}"# },
            patch: #"{"status": "qualified"}"#, changedField: "status"),
        Resource(
            path: "/v1/customers", body: { _, n in #"{"company": "Company \#(n)"}"# },
            patch: #"{"country": "fr"}"#, changedField: "country"),
        Resource(
            path: "/v1/contacts",
            body: { customer, n in
                #"{"customer_id": "\#(customer)", "first_name": "F\#(n)", "last_name": "L", "email": "c\#(n)@example.org"}"#
            },
            patch: #"{"title": "Buyer"}"#, changedField: "title"),
    ]

    @Test(arguments: resources)
    func createReadListUpdateDelete(resource: Resource) async throws {
        try await StaffFixture.withApp { fixture, client in
            let staff = try await fixture.key(role: .staff)
            let readonly = try await fixture.key(role: .readonly)
            let customer = try #require(try await client.create("/v1/customers", key: staff, #"{"company": "Holder"}"#)["id"] as? String)

            // 401 without a key, 403 for a role that may only read.
            #expect(try await client.send(.get, resource.path, headers: headers(key: nil)).status == .unauthorized)
            let refused = try await client.send(
                .post, resource.path, headers: headers(key: readonly, json: true), body: resource.body(customer, 0))
            #expect(refused.status == .forbidden)

            var ids: [String] = []
            for n in 1...5 {
                ids.append(try #require(try await client.create(resource.path, key: staff, resource.body(customer, n))["id"] as? String))
            }
            let read = try await client.send(.get, "\(resource.path)/\(ids[0])", headers: headers(key: readonly))
            #expect(read.status == .ok)
            #expect(read.headers[.eTag] == "\"1\"")

            // Pages of two, in creation order, every record exactly once.
            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await client.send(
                    .get, "\(resource.path)?limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""), headers: headers(key: readonly)
                ).json()
                seen += (page["data"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                cursor = page["next_cursor"] as? String
            } while cursor != nil
            #expect(seen.filter(ids.contains) == ids)

            let updated = try await client.send(
                .patch, "\(resource.path)/\(ids[0])", headers: headers(key: staff, json: true, ifMatch: "\"1\""), body: resource.patch
            )
            #expect(updated.status == .ok)
            #expect(updated.headers[.eTag] == "\"2\"")
            #expect(!(try updated.json()[resource.changedField] is NSNull))
            let stale = try await client.send(
                .patch, "\(resource.path)/\(ids[0])", headers: headers(key: staff, json: true, ifMatch: "\"1\""), body: resource.patch
            )
            #expect(stale.status == .preconditionFailed)
            #expect(
                try await client.send(
                    .patch, "\(resource.path)/\(ids[0])", headers: headers(key: readonly, json: true), body: resource.patch
                ).status == .forbidden)

            #expect(try await client.send(.delete, "\(resource.path)/\(ids[1])", headers: headers(key: readonly)).status == .forbidden)
            #expect(try await client.send(.delete, "\(resource.path)/\(ids[1])", headers: headers(key: staff)).status == .noContent)
            #expect(try await client.send(.get, "\(resource.path)/\(ids[1])", headers: headers(key: staff)).status == .notFound)
            #expect(
                try await client.send(.patch, "\(resource.path)/\(UUID())", headers: headers(key: staff, json: true), body: resource.patch)
                    .status == .notFound)
        }
    }
}
