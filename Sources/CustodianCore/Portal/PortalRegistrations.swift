import Foundation
import JSONText
import Postgres

/// Registration in two steps: what a person registers with is checked, its password hashed, and a
/// confirmation link sent to the address (webhook `portal.registration_confirmation_requested`);
/// the customer, contact and account come to be only when the link is used. The answer to a
/// registration is the same whether the address is known or not: a person who has a contact
/// already is told by mail (`contact.registration_attempted`), not by a status code, and nobody
/// can squat an address they do not read.
///
/// The registration waits in the token (sealed), not in the database; it works once, because
/// the address is then a contact's.
extension PortalAccounts {
    static let registrationLifetime: TimeInterval = 24 * 3600

    /// Checks and prepares `registration` and sends the confirmation (or, for a known address,
    /// the notice). Throws for what the caller must fix (policies not accepted) or may not do
    /// (registration closed); otherwise answers nothing about the address.
    public func register(_ registration: Registration) async throws {
        let settings = try await PortalSettings.current(on: database)
        guard settings.enabled, settings.registrationEnabled else { throw Refusal.disabled }
        try await Policies.requireAccepted(settings.requiredPolicies, given: registration.acceptances, on: database)
        // Hashed whether or not the address is known: both answers take as long.
        let hash = try await hasher.hash(registration.password)
        guard let email = Self.email(of: registration) else {
            throw DomainError.invalid([FieldError(field: "email", message: "is required")])
        }
        try await database.transaction { transaction in
            let known = try await transaction.query("SELECT id FROM contacts WHERE lower(email) = lower($1)", [email]).first
            if let known {
                let contactID: UUID = try known.decode("id")
                try await Outbox.emit(
                    .registrationAttempted, data: ["contact_id": .uuid(contactID)], sealing: ["email": .string(email)], with: secrets,
                    subjectID: contactID, on: transaction)
                return
            }
            let (token, expiresAt) = try ConfirmationToken.issue(
                .registration, body: Self.sealed(registration, passwordHash: hash), lifetime: Self.registrationLifetime, with: secrets)
            try await Outbox.emit(
                .registrationConfirmationRequested, data: ["expires_at": .timestamp(expiresAt)],
                sealing: [
                    "email": .string(email), "token": .string(token), "link": .string("\(registrationLinkBaseURL)?token=\(token)"),
                ],
                with: secrets, subjectID: nil, on: transaction)
        }
    }

    /// Creates the customer, its primary contact and the account a confirmed registration asked
    /// for, records the acceptances, and logs the contact in; all or nothing. Nil: the token is no
    /// registration's, expired, or used (its address is a contact's now).
    public func confirmRegistration(token: String) async throws -> NewSession? {
        guard let body = ConfirmationToken.open(token, as: .registration, with: secrets),
            let registration = Self.registration(from: body), let hash = body["password_hash"]?.string,
            let email = Self.email(of: registration)
        else { return nil }
        let settings = try await PortalSettings.current(on: database)
        guard settings.enabled, settings.registrationEnabled else { throw Refusal.disabled }
        return try await database.transaction { transaction in
            // Serialises two confirmations of one address; the unique index would refuse the second anyway.
            _ = try await transaction.query("SELECT pg_advisory_xact_lock(hashtextextended('registration:' || lower($1), 0))", [email])
            guard try await transaction.query("SELECT 1 FROM contacts WHERE lower(email) = lower($1)", [email]).isEmpty else {
                return nil
            }
            try await Policies.requireAccepted(settings.requiredPolicies, given: registration.acceptances, on: transaction)
            let customer = try await Customers.table.insert(registration.customer, customFields: .object([:]), by: nil, on: transaction)
            let contact = try await Contacts.table.insert(
                registration.contact + [("customer_id", .uuid(customer.id)), ("is_primary", .bool(true))], customFields: .object([:]),
                by: nil, on: transaction)
            try await transaction.execute(
                """
                INSERT INTO portal_accounts (contact_id, password_hash, password_changed_at, confirmed_email)
                VALUES ($1, $2, now(), $3)
                """,
                [contact.id, hash, email])
            let policies = Policies(database: database)
            for acceptance in registration.acceptances {
                _ = try await policies.accept(
                    acceptance.kind, version: acceptance.version, language: acceptance.language, by: .contact(contact.id),
                    origin: .init(context: .registration, ip: registration.ip, userAgent: registration.userAgent), on: transaction)
            }
            return try await openSession(
                for: contact.id, hours: settings.sessionHours, ip: registration.ip, userAgent: registration.userAgent, on: transaction)
        }
    }

    // MARK: The registration inside its token

    /// The address the registration is for (the contact's email).
    private static func email(of registration: Registration) -> String? {
        guard case .text(let email)? = registration.contact.first(where: { $0.column == "email" })?.value else { return nil }
        return email
    }

    /// Column values as `[column, kind, value]`: enough to rebuild each `ColumnValue` exactly.
    private static func encoded(_ values: ColumnValues) -> JSONValue {
        .array(
            values.map { column, value in
                switch value {
                case .null: .array([.string(column), .string("null"), .null])
                case .text(let text): .array([.string(column), .string("text"), .string(text)])
                case .bool(let flag): .array([.string(column), .string("bool"), .bool(flag)])
                case .uuid(let id): .array([.string(column), .string("uuid"), .uuid(id)])
                case .date(let date): .array([.string(column), .string("date"), .integer(Int(date.timeIntervalSince1970 * 1000))])
                }
            })
    }

    private static func decoded(_ json: JSONValue?) -> ColumnValues? {
        guard let items = json?.array else { return nil }
        var values: ColumnValues = []
        for item in items {
            guard let parts = item.array, parts.count == 3, let column = parts[0].string, let kind = parts[1].string else { return nil }
            switch (kind, parts[2]) {
            case ("null", _): values.append((column, .null))
            case ("text", .string(let text)): values.append((column, .text(text)))
            case ("bool", .bool(let flag)): values.append((column, .bool(flag)))
            case ("uuid", .string(let text)):
                guard let id = UUID(uuidString: text) else { return nil }
                values.append((column, .uuid(id)))
            case ("date", .integer(let milliseconds)):
                values.append((column, .date(Date(timeIntervalSince1970: Double(milliseconds) / 1000))))
            default: return nil
            }
        }
        return values
    }

    private static func sealed(_ registration: Registration, passwordHash: String) -> JSONValue {
        .object([
            "customer": encoded(registration.customer),
            "contact": encoded(registration.contact),
            "password_hash": .string(passwordHash),
            "accept": .array(
                registration.acceptances.map {
                    .array([.string($0.kind.rawValue), .integer($0.version), .string($0.language.rawValue)])
                }),
            "ip": .string(registration.ip),
            "user_agent": .string(registration.userAgent),
        ])
    }

    private static func registration(from body: JSONValue) -> Registration? {
        guard let customer = decoded(body["customer"]), let contact = decoded(body["contact"]), let accepted = body["accept"]?.array
        else { return nil }
        var acceptances: [(kind: Policies.Kind, version: Int, language: Policies.Language)] = []
        for item in accepted {
            guard let parts = item.array, parts.count == 3, let kind = parts[0].string.flatMap(Policies.Kind.init(rawValue:)),
                case .integer(let version) = parts[1], let language = parts[2].string.flatMap(Policies.Language.init(rawValue:))
            else { return nil }
            acceptances.append((kind, version, language))
        }
        return Registration(
            customer: customer, contact: contact, password: "", acceptances: acceptances, ip: body["ip"]?.string,
            userAgent: body["user_agent"]?.string)
    }
}
