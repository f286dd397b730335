import Foundation
import JSONText

/// A person's unsubscribe token (GDPR Art. 7(3): withdrawing is as easy as giving). It goes into
/// every message a mailer sends (`List-Unsubscribe`), so it never expires and is the same each
/// time: the person's kind and id with a MAC under the server's unsubscribe key, nothing stored.
/// It can only withdraw consent, never read or change anything else; a key rotation keeps old
/// tokens working while the key is listed as retired.
public enum UnsubscribeToken {
    /// 1 byte of kind, 16 of id, 16 of MAC: 33 bytes, 44 characters of base64url.
    static let length = 44

    public static func issue(for person: Person, with secrets: ServerSecrets) -> String {
        token(for: person, under: secrets.current)
    }

    private static func token(for person: Person, under secret: ServerSecret) -> String {
        var bytes: [UInt8] = [person.kind == .lead ? 1 : 2]
        bytes += withUnsafeBytes(of: person.id.uuid) { Array($0) }
        bytes += mac(person, under: secret)
        return Data(bytes).base64URLEncoded
    }

    private static func mac(_ person: Person, under secret: ServerSecret) -> [UInt8] {
        Array(secret.mac("unsubscribe|\(person.kind.rawValue)|\(person.id.lowercasedString)", for: .unsubscribe).prefix(16))
    }

    /// Whether `text` has a token's shape: checked before any work.
    public static func couldBeToken(_ text: String) -> Bool {
        text.utf8.count == length && ConfirmationToken.couldBeToken(text)
    }

    /// The person a token names, if its MAC holds under one of the keys.
    public static func open(_ token: String, with secrets: ServerSecrets) -> Person? {
        guard couldBeToken(token), let data = Data(base64URLEncoded: token), data.count == 33 else { return nil }
        let bytes = Array(data)
        let kind: Person.Kind
        switch bytes[0] {
        case 1: kind = .lead
        case 2: kind = .contact
        default: return nil
        }
        let id = bytes[1..<17].withUnsafeBytes { UUID(uuid: $0.loadUnaligned(as: uuid_t.self)) }
        let person = Person(kind, id: id)
        let given = Array(bytes[17..<33])
        for secret in secrets.all where Secret.constantTimeEqual(given, mac(person, under: secret)) {
            return person
        }
        return nil
    }
}
