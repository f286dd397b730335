import CustodianCore
import Foundation
import Hummingbird
import JSONText

/// The JSON of what several consent answers share: chain heads and signed receipts.
enum ConsentJSON {
    static func head(_ head: ConsentLedger.ChainHead) -> JSONValue {
        .object(["seq": .integer(Int(head.seq)), "hash": head.hash.map(JSONValue.hex) ?? .null])
    }

    /// The purposes a person decides on, with their current text and the person's state.
    static func purposes(_ states: [ConsentLedger.PurposeState]) -> JSONValue {
        .array(
            states.map { state in
                .object([
                    "purpose_id": .uuid(state.purpose.id),
                    "name": .string(state.purpose.name),
                    "description": .string(state.purpose.description),
                    "lawful_basis": .string(state.purpose.lawfulBasis.rawValue),
                    "version": .integer(state.purpose.currentVersion),
                    "state": .string(state.state.rawValue),
                    "objectable": .bool(state.purpose.objectable),
                ])
            })
    }

    static func receipt(_ receipt: ConsentReceipt?) -> JSONValue {
        guard let receipt else { return .null }
        return .object([
            "format": .string(ConsentReceipt.format),
            "seq": .integer(Int(receipt.seq)),
            "hash": .hex(receipt.hash),
            "issued_at": .string(receipt.issuedAt),
            "key_id": .string(receipt.keyID),
            "algorithm": .string("Ed25519"),
            "signature": .string(Data(receipt.signature).base64URLEncoded),
        ])
    }
}

extension Request {
    /// The User-Agent as the consent history stores it: metadata, so a long one is cut to what
    /// the column holds (1,000 characters) rather than refused.
    var userAgentForRecords: String? {
        headers[.userAgent].map { String(String.UnicodeScalarView($0.unicodeScalars.prefix(1000))) }
    }
}
