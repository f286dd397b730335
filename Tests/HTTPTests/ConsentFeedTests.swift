import CustodianCore
import Foundation
import HTTPTypes
import Postgres
import TestSupport
import Testing

/// `GET /v1/feeds/consents`: each person's state per purpose, with the record feeds' guarantees:
/// every decision reaches it, restriction stops it, conversion moves it, erasure removes it.
@Suite("Consents feed: state per person and purpose, every change once, erasures as tombstones")
struct ConsentFeedTests {
    static func states(_ reader: FeedReader, _ person: String) -> [String: String] {
        let purposes = reader.copy[person]?["purposes"] as? [[String: Any]] ?? []
        return purposes.reduce(into: [:]) { $0[$1["purpose_id"] as? String ?? ""] = $1["state"] as? String }
    }

    @Test func everyDecisionRestrictionConversionAndErasureReachesTheFeed() async throws {
        try await StaffFixture.withApp { fixture, client in
            let admin = fixture.adminKey
            let news = try await client.createPurpose(key: admin, name: "News")
            let analytics = try await client.createPurpose(key: admin, name: "Analytics", lawfulBasis: "legitimate_interests")
            func lead(_ name: String) async throws -> String {
                try #require(
                    try await client.create("/v1/leads", key: admin, #"{"name": "\#(name)", "email": "\#(name)@feed.example"}"#)["id"]
                        as? String)
            }
            func decide(_ person: String, _ purpose: String, _ action: String) async throws {
                _ = try await client.create(
                    "/v1/leads/\(person)/consents", key: admin, #"{"purpose_id": "\#(purpose)", "action": "\#(action)"}"#)
            }
            let ann = try await lead("ann")
            let ben = try await lead("ben")
            let cid = try await lead("cid")
            _ = try await lead("never-asked")
            for person in [ann, ben, cid] { try await decide(person, news, "give") }
            try await decide(ann, analytics, "give")

            var reader = FeedReader("consents", key: try await fixture.key(role: .integration))
            let first = try await reader.poll(client)
            #expect(first.count == 4, "the three people with a history, then a checkpoint: \(FeedTests.ops(first))")
            #expect(Self.states(reader, ann) == [news: "given", analytics: "given"])
            #expect(reader.copy[ann]?["person_type"] as? String == "lead")

            try await decide(ann, analytics, "object")
            try await decide(ben, news, "withdraw")
            let restriction = try await RestrictionTests.restrict(client, key: admin, "/v1/leads/\(cid)")
            let changed = try await reader.poll(client)
            #expect(FeedTests.ops(changed).sorted() == ["checkpoint ", "restricted \(cid)", "upsert \(ann)", "upsert \(ben)"].sorted())
            #expect(Self.states(reader, ann) == [news: "given", analytics: "objected"])
            #expect(Self.states(reader, ben) == [news: "withdrawn"])
            #expect(reader.removed[cid] == "restricted")

            // Nothing new: only a checkpoint, nothing served twice.
            #expect(FeedTests.ops(try await reader.poll(client)) == ["checkpoint "])
            let lifted = try await client.send(
                .post, "/v1/restrictions/\(restriction)/lift", headers: headers(key: admin, json: true),
                body: #"{"reason": "The address was checked."}"#)
            #expect(lifted.status == .ok, "\(lifted.text)")
            #expect(FeedTests.ops(try await reader.poll(client)) == ["upsert \(cid)", "checkpoint "])
            #expect(Self.states(reader, cid) == [news: "given"])

            // A converted lead names its contact, whose line holds the person's consent now.
            let converted = try await client.send(.post, "/v1/leads/\(ben)/convert", headers: headers(key: admin))
            let contact = try #require((try converted.json()["contact"] as? [String: Any])?["id"] as? String)
            _ = try await reader.poll(client)
            #expect(reader.copy[ben]?["converted_contact_id"] as? String == contact)
            #expect(Self.states(reader, ben).isEmpty)
            #expect(Self.states(reader, contact) == [news: "withdrawn"])
            #expect(reader.copy[contact]?["person_type"] as? String == "contact")

            let erasure = try await client.openErasure(subjectType: "lead", subjectID: ann, key: admin)
            try await client.startErasure(erasure, key: admin)
            #expect(try await client.send(.post, "/v1/requests/\(erasure)/erase", headers: headers(key: admin)).status == .ok)
            #expect(FeedTests.ops(try await reader.poll(client)) == ["erased \(ann)", "checkpoint "])
            #expect(reader.repeats.isEmpty, "\(reader.repeats)")
        }
    }
}
