import Foundation
import HTTPTypes
import TestSupport
import Testing

/// The operations no other test answered with success: a contact's notes, link, acceptances and
/// corrections (the tests take leads there), single reads of definitions, and the customer area's
/// consents and requests. Every answer is checked against the contract, and each becomes the
/// contract's example (scripts/contract-examples).
@Suite("A contact's records, single definitions and the customer area's lists answer as documented")
struct RemainingOperationsTests {
    @Test func aContactsNotesLinkAcceptancesAndCorrections() async throws {
        try await PortalTests.withPortal { fixture, client in
            let key = fixture.adminKey
            let person = try await client.seedPerson(key: key)
            let contact = "/v1/contacts/\(person.contact)"

            let notes = try await client.send(.get, contact + "/notes", headers: headers(key: key))
            #expect(notes.status == .ok && notes.text.contains(person.marker))

            let link = try await client.send(.post, contact + "/consent-link", headers: headers(key: key))
            #expect(link.status == .created)
            let linkID = try #require(try link.json()["link_id"] as? String)
            let location = try #require(link.headers[.location])
            #expect(location == contact + "/consent-link-history")
            #expect(try await client.send(.get, location, headers: headers(key: key)).text.contains(linkID))

            let version = try await PortalTests.publishTerms(client, key: key)
            let accepted = try await client.send(
                .post, contact + "/policy-acceptances", headers: headers(key: key, json: true),
                body: #"{"kind": "terms", "version": \#(version), "language": "en"}"#)
            #expect(accepted.status == .created, "\(accepted.text)")
            #expect(accepted.headers[.location] == contact + "/policy-acceptances")
            let acceptances = try await client.send(.get, contact + "/policy-acceptances", headers: headers(key: key))
            #expect(acceptances.text.contains(try #require(try accepted.json()["id"] as? String)))

            let corrections = try await client.send(.get, contact + "/corrections", headers: headers(key: key))
            #expect(corrections.status == .ok)
        }
    }

    @Test func singleReadsOfDefinitions() async throws {
        try await StaffFixture.withApp { fixture, client in
            let key = fixture.adminKey
            let field = try await client.create(
                "/v1/custom-fields", key: key, #"{"entity": "contact", "key": "shoe_size", "label": "Shoe size", "type": "number"}"#)
            let fieldID = try #require(field["id"] as? String)
            let readField = try await client.send(.get, "/v1/custom-fields/\(fieldID)", headers: headers(key: key))
            #expect(try readField.json()["key"] as? String == "shoe_size")

            let purpose = try await client.create(
                "/v1/consent-purposes", key: key,
                #"{"name": "Events", "description": "Invitations to our events.", "lawful_basis": "consent", "applies_to": "contacts"}"#)
            let purposeID = try #require(purpose["id"] as? String)
            let readPurpose = try await client.send(.get, "/v1/consent-purposes/\(purposeID)", headers: headers(key: key))
            #expect(try readPurpose.json()["name"] as? String == "Events")
        }
    }

    @Test func theCustomerAreasConsentsAndRequests() async throws {
        try await PortalTests.withPortal { fixture, client in
            let purpose = try await client.create(
                "/v1/consent-purposes", key: fixture.adminKey,
                #"{"name": "Product news", "description": "What is new, monthly.", "lawful_basis": "consent", "applies_to": "contacts"}"#)
            let purposeID = try #require(purpose["id"] as? String)
            let (session, _, _) = try await PortalTests.registered(client, fixture)

            let decided = try await client.send(
                .post, "/v1/portal/me/consents", headers: PortalTests.bearer(session, json: true),
                body: #"{"decisions": [{"purpose_id": "\#(purposeID)", "action": "give"}]}"#)
            #expect(decided.status == .ok, "\(decided.text)")
            let states = try #require(try decided.json()["purposes"] as? [[String: Any]])
            #expect(states.first { $0["purpose_id"] as? String == purposeID }?["state"] as? String == "given")

            let filed = try await client.send(
                .post, "/v1/portal/me/requests", headers: PortalTests.bearer(session, json: true), body: #"{"kind": "access"}"#)
            #expect(filed.status == .created, "\(filed.text)")
            #expect(filed.headers[.location] == "/v1/portal/me/requests")
            let own = try await client.send(.get, "/v1/portal/me/requests", headers: PortalTests.bearer(session))
            #expect(own.text.contains(try #require(try filed.json()["id"] as? String)))
        }
    }
}
