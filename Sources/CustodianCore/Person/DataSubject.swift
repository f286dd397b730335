import Foundation

/// What a request case or an erasure is about: a person (a lead or a contact) or a customer,
/// whose contacts and the leads that became them are the people erased with it.
public struct DataSubject: Sendable, Hashable {
    public enum Kind: String, Sendable, CaseIterable {
        case lead, contact, customer

        /// The table that holds this kind of record; fixed, never from a request.
        public var table: String {
            switch self {
            case .lead: "leads"
            case .contact: "contacts"
            case .customer: "customers"
            }
        }
    }

    public let kind: Kind
    public let id: UUID

    public init(_ kind: Kind, id: UUID) {
        self.kind = kind
        self.id = id
    }

    /// The person, when the subject is a lead or a contact.
    public var person: Person? {
        switch kind {
        case .lead: .lead(id)
        case .contact: .contact(id)
        case .customer: nil
        }
    }
}
