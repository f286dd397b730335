import CustodianCore
import Foundation
import Hummingbird
import JSONText

/// `/v1/{leads|contacts}/{id}/consents`: a person's consent state and history, decisions staff
/// record on their behalf, and the check of their chain.
struct PersonConsentRoutes {
    let ledger: ConsentLedger
    let receipts: ConsentReceipts
    let auth: StaffAuthenticator

    func register(on routes: inout RouteTable) {
        for (path, kind) in Person.Kind.collections {
            routes.on(.get, path + "/{id}/consents", use: auth.requiring(.readonly, overview(kind)))
            routes.on(.post, path + "/{id}/consents", use: auth.creating(.staff, record(kind)))
            routes.on(.get, path + "/{id}/consents/verify", use: auth.requiring(.readonly, verify(kind)))
        }
    }

    static func subject(_ kind: Person.Kind, _ context: AppRequestContext) throws -> Person {
        let id = try context.parameters.uuid("id")
        return Person(kind, id: id)
    }

    static func json(_ record: ConsentLedger.Record) -> JSONValue {
        .object([
            "id": .uuid(record.id),
            "seq": .integer(Int(record.seq)),
            "purpose_id": .uuid(record.purposeID),
            "purpose_version": .integer(record.purposeVersion),
            "action": .string(record.action.rawValue),
            "recorded_at": .timestamp(record.recordedAt),
            "channel": .string(record.channel.rawValue),
            "ip": .string(record.ip),
            "user_agent": .string(record.userAgent),
            "staff_id": .uuid(record.staffID),
            "note": .string(record.note),
            "carried_from": .uuid(record.carriedFrom),
            "link_id": .uuid(record.linkID),
            "hash_version": .integer(record.hashVersion),
            "purpose_text_hash": record.purposeTextHash.map(JSONValue.hex) ?? .null,
            "hash": .hex(record.hash),
        ])
    }

    static func json(_ state: ConsentLedger.PurposeState) -> JSONValue {
        .object([
            "purpose_id": .uuid(state.purpose.id),
            "name": .string(state.purpose.name),
            "lawful_basis": .string(state.purpose.lawfulBasis.rawValue),
            "active": .bool(state.purpose.active),
            "version": .integer(state.purpose.currentVersion),
            "state": .string(state.state.rawValue),
            "objectable": .bool(state.purpose.objectable),
            "changed_at": .timestamp(state.changedAt),
            "acted_on_version": state.actedOnVersion.map { .integer($0) } ?? .null,
        ])
    }

    /// The state per purpose, a page of the history (oldest first), the chain's head and a signed
    /// receipt of it.
    func overview(_ kind: Person.Kind) -> StaffAuthenticator.AuthenticatedHandler {
        { request, context, _ in
            let subject = try Self.subject(kind, context)
            var query = ListQuery(request)
            let limit = query.limit()
            let cursor = try query.cursor()
            try query.finish()
            // The history's cursor carries a position in the chain where other cursors carry a
            // creation time; any cursor a list issued is well-formed here too.
            let (history, more) = try await ledger.history(of: subject, afterSeq: max(0, cursor?.createdAtMicroseconds ?? 0), limit: limit)
            // Read after the page, the head is never older than a record the page shows.
            let (states, head) = try await ledger.statesAndHead(of: subject)
            if head.seq == 0 { try await ledger.requireExists(subject) }
            return JSONBody.response(
                JSONValue.object([
                    "purposes": .array(states.map(Self.json)),
                    "history": .array(history.map(Self.json)),
                    "next_cursor": .string(more ? history.last.map { Cursor(createdAtMicroseconds: $0.seq, id: $0.id).token } : nil),
                    "chain_head": ConsentJSON.head(head),
                    "receipt": ConsentJSON.receipt(try await receipts.receipt(for: head)),
                ]))
        }
    }

    /// Records a give, withdraw or objection on the person's behalf, with a note. A give after the
    /// person objected is theirs to make (409).
    func record(_ kind: Person.Kind) -> StaffAuthenticator.AuthenticatedHandler {
        { request, context, actor in
            let subject = try Self.subject(kind, context)
            var fields = try await RequestFields.read(request)
            let purposeID = fields.uuid("purpose_id", required: true)
            let action = fields.choice("action", ConsentLedger.Decision.self, required: true)
            let note = fields.string("note", required: false, maxLength: 2000)
            try fields.finish()
            guard let purposeID = purposeID.value, let action = action.value else { throw DomainError.invalid([]) }
            let origin = ConsentLedger.Origin(
                channel: .staff,
                ip: context.clientIP?.description,
                userAgent: request.userAgentForRecords,
                staffID: actor.member.id,
                note: note.value
            )
            let records = try await ledger.record([(purposeID, action)], for: subject, origin: origin)
            guard let record = records.first else { throw DomainError.invalid([]) }
            // The receipt covers the chain up to and including this record.
            let receipt = try await receipts.receipt(for: .init(seq: record.seq, hash: record.hash))
            guard case .object(var body) = Self.json(record) else { throw DomainError.invalid([]) }
            body["receipt"] = ConsentJSON.receipt(receipt)
            return JSONBody.response(JSONValue.object(body), status: .created).located(at: request.uri.path)
        }
    }

    /// Recomputes the person's hash chain: whether any record or purpose text was changed, or a
    /// record removed or reordered. With a receipt's `receipt_seq` and `receipt_hash`, also
    /// whether the chain still holds what the receipt proves (records removed from the end fail).
    func verify(_ kind: Person.Kind) -> StaffAuthenticator.AuthenticatedHandler {
        { request, context, _ in
            let subject = try Self.subject(kind, context)
            var query = ListQuery(request, known: [])
            let receipt = query.receipt("receipt")
            try query.finish()
            try await ledger.requireExists(subject)
            let verification = try await ledger.verify(subject, receipt: receipt)
            var body: [String: JSONValue] = [
                "intact": .bool(verification.intact),
                "records": .integer(verification.records),
                "first_broken_seq": verification.firstBrokenSeq.map { .integer(Int($0)) } ?? .null,
                "chain_head": ConsentJSON.head(verification.head),
            ]
            if let matches = verification.receiptMatches { body["receipt_matches"] = .bool(matches) }
            return JSONBody.response(JSONValue.object(body))
        }
    }
}
