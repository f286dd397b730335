import Foundation
import JSONText

/// A one-time capability sent to an email address to prove it is the person's: what it confirms
/// (a new email, a registration) travels inside the token, sealed with the server's
/// confirmation-token key (AES-GCM), so nothing personal waits in the database for a
/// confirmation that may never come. Tokens expire; each use says what makes it single-use (a
/// record's revision, an address not yet taken).
public enum ConfirmationToken {
    /// Tokens are a few hundred bytes; anything much longer is not one of ours.
    public static let maxLength = 4096

    public enum Purpose: String, Sendable {
        case emailChange = "email_change"
        case registration
        /// A consent given for a purpose with double opt-in.
        case consent
    }

    /// base64url of the sealed `{"purpose", "expires", "body"}`.
    static func issue(_ purpose: Purpose, body: JSONValue, lifetime: TimeInterval, with secrets: ServerSecrets) throws -> (
        token: String, expiresAt: Date
    ) {
        let expiresAt = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + lifetime).rounded(.down))
        return (try issue(purpose, body: body, expiringAt: expiresAt, with: secrets), expiresAt)
    }

    /// A token that ends at a time fixed by what it confirms (not by when it is made).
    static func issue(_ purpose: Purpose, body: JSONValue, expiringAt expiresAt: Date, with secrets: ServerSecrets) throws -> String {
        let content = JSONValue.object([
            "purpose": .string(purpose.rawValue), "expires": .integer(Int(expiresAt.timeIntervalSince1970)), "body": body,
        ])
        let sealed = try secrets.current.seal(content.serialized(), for: .confirmationToken)
        return Data(sealed).base64URLEncoded
    }

    /// Whether `text` has a token's shape (base64url, not too long): checked before anything else.
    public static func couldBeToken(_ text: String) -> Bool {
        (1...maxLength).contains(text.utf8.count)
            && text.utf8.allSatisfy { byte in
                (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
            }
    }

    /// The body of a token issued for `purpose` under any of the keys, unexpired; nil otherwise.
    static func open(_ token: String, as purpose: Purpose, with secrets: ServerSecrets) -> JSONValue? {
        guard couldBeToken(token), let sealed = Data(base64URLEncoded: token) else { return nil }
        for secret in secrets.all {
            guard let opened = secret.open(Array(sealed), for: .confirmationToken),
                let content = JSONValue(json: String(decoding: opened, as: UTF8.self)),
                content["purpose"]?.string == purpose.rawValue,
                case .integer(let expires)? = content["expires"], Double(expires) > Date().timeIntervalSince1970
            else { continue }
            return content["body"]
        }
        return nil
    }
}
