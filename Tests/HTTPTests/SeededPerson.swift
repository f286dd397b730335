import Foundation
import HTTPTypes
import Testing

/// A person as a lead (with a note, a custom value, a consent and a link) converted into the
/// primary contact of a customer (with a phone, a custom value, a note kept with an
/// Idempotency-Key, a consent and an access case), beside two other contacts there.
struct SeededPerson {
    let lead: String
    let contact: String
    let customer: String
    let firstNeighbour: String
    let secondNeighbour: String
    let email: String
    /// What each of the person's values contains.
    let marker: String
    let needles: [String]

    /// A short random marker, so that every value of a test's person is unique in the database.
    static func marker() -> String { String(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(10)).lowercased() }

    static func digits() -> String { String((0..<9).map { _ in Character(String(Int.random(in: 0...9))) }) }
}

extension ContractClient {
    func seedPerson(key: String) async throws -> SeededPerson {
        let r = SeededPerson.marker()
        let phone = SeededPerson.digits()
        let email = "zq\(r)@erase.example"
        _ = try await create("/v1/custom-fields", key: key, #"{"entity": "lead", "key": "hobby", "label": "Hobby", "type": "text"}"#)
        _ = try await create(
            "/v1/custom-fields", key: key, #"{"entity": "contact", "key": "nickname", "label": "Nickname", "type": "text"}"#)
        let purpose = try #require(
            try await create(
                "/v1/consent-purposes", key: key,
                #"{"name": "Newsletter", "description": "Monthly news by email.", "lawful_basis": "consent", "applies_to": "both"}"#
            )["id"] as? String)
        _ = try await create(
            "/v1/webhooks", key: key,
            #"{"url": "https://hooks.example.org/never-contacted", "events": ["request.received", "request.updated", "request.completed", "subject.erased"]}"#
        )
        let lead = try #require(
            try await create(
                "/v1/leads", key: key,
                #"{"name": "Zelda\#(r) Quill\#(r)", "company": "Acme Widgets", "email": "\#(email)", "description": "Met Zelda\#(r) at the fair", "custom_fields": {"hobby": "falconry\#(r)"}}"#
            )["id"] as? String)
        _ = try await create("/v1/leads/\(lead)/notes", key: key, #"{"text": "Call back, lead note \#(r)"}"#)
        _ = try await create(
            "/v1/leads/\(lead)/consents", key: key, #"{"purpose_id": "\#(purpose)", "action": "give", "note": "consent via phone \#(r)"}"#)
        #expect(try await send(.post, "/v1/leads/\(lead)/consent-link", headers: headers(key: key)).status == .created)
        let converted = try await send(.post, "/v1/leads/\(lead)/convert", headers: headers(key: key))
        #expect(converted.status == .created)
        let conversion = try converted.json()
        let contact = try #require((conversion["contact"] as? [String: Any])?["id"] as? String)
        let customer = try #require((conversion["customer"] as? [String: Any])?["id"] as? String)
        let patched = try await send(
            .patch, "/v1/contacts/\(contact)", headers: headers(key: key, json: true),
            body: #"{"phone": "+49 \#(phone)", "custom_fields": {"nickname": "Zed\#(r)"}}"#
        )
        #expect(patched.status == .ok, "\(patched.text)")
        var keyed = headers(key: key, json: true)
        keyed[HTTPField.Name("Idempotency-Key")!] = UUID().uuidString
        let note = try await send(.post, "/v1/contacts/\(contact)/notes", headers: keyed, body: #"{"text": "contact note \#(r)"}"#)
        #expect(note.status == .created)
        _ = try await create(
            "/v1/contacts/\(contact)/consents", key: key,
            #"{"purpose_id": "\#(purpose)", "action": "withdraw", "note": "withdrawn by letter \#(r)"}"#
        )
        _ = try await create(
            "/v1/requests", key: key,
            #"{"kind": "access", "subject_type": "contact", "subject_id": "\#(contact)", "details": "send me my data \#(r)"}"#
        )
        var neighbours: [String] = []
        for name in ["Nora", "Nils"] {
            let n = SeededPerson.marker()
            let id = try #require(
                try await create(
                    "/v1/contacts", key: key,
                    #"{"customer_id": "\#(customer)", "first_name": "\#(name)", "last_name": "Neighbour\#(n)", "email": "\#(n)@neighbour.example"}"#
                )["id"] as? String)
            _ = try await create("/v1/contacts/\(id)/notes", key: key, #"{"text": "neighbour note \#(n)"}"#)
            _ = try await create("/v1/contacts/\(id)/consents", key: key, #"{"purpose_id": "\#(purpose)", "action": "give"}"#)
            neighbours.append(id)
        }
        return SeededPerson(
            lead: lead, contact: contact, customer: customer, firstNeighbour: neighbours[0], secondNeighbour: neighbours[1], email: email,
            marker: r,
            needles: [
                email, "Zelda\(r)", "Quill\(r)", phone, "lead note \(r)", "contact note \(r)", "falconry\(r)", "Zed\(r)",
                "consent via phone \(r)", "withdrawn by letter \(r)", "send me my data \(r)", "erase me \(r)",
            ]
        )
    }
}
