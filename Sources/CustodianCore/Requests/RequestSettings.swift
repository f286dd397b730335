import Foundation
import Postgres

/// Which kinds of request a person may file through their personal link, for leads and for
/// contacts. Staff may open any kind for anyone.
public struct RequestSettings: Sendable {
    public struct Values: Sendable {
        public var leadKinds: [RequestCases.Kind]
        public var contactKinds: [RequestCases.Kind]
        public var revision: Int64
        public var updatedAt: Date

        public func allows(_ kind: RequestCases.Kind, for person: Person.Kind) -> Bool {
            switch person {
            case .lead: leadKinds.contains(kind)
            case .contact: contactKinds.contains(kind)
            }
        }
    }

    let database: PostgresPool

    public init(database: PostgresPool) { self.database = database }

    static let columns = "to_jsonb(lead_kinds) AS lead_kinds, to_jsonb(contact_kinds) AS contact_kinds, revision, updated_at"

    static func values(from row: Row) throws -> Values {
        func kinds(_ column: String) throws -> [RequestCases.Kind] {
            try row.decodeNames(column)
        }
        return Values(
            leadKinds: try kinds("lead_kinds"), contactKinds: try kinds("contact_kinds"), revision: try row.decode("revision"),
            updatedAt: try row.decode("updated_at")
        )
    }

    static let settings = SettingsTable(table: "request_settings", columns: columns, values: values(from:))

    public func current(on database: some Queryable) async throws -> Values { try await Self.settings.current(on: database) }

    public func current() async throws -> Values { try await current(on: database) }

    public func update(leadKinds: [RequestCases.Kind]?, contactKinds: [RequestCases.Kind]?, expectedRevision: Int64?, by actor: UUID)
        async throws -> Values
    {
        try await database.transaction { transaction in
            let current = try await Self.settings.lock(expectedRevision: expectedRevision, in: transaction)
            let row = try await transaction.query(
                """
                UPDATE request_settings SET lead_kinds = ARRAY(SELECT jsonb_array_elements_text($1)),
                    contact_kinds = ARRAY(SELECT jsonb_array_elements_text($2)), updated_by = $3
                RETURNING \(Self.columns)
                """,
                [
                    JSONB((leadKinds ?? current.leadKinds).map(\.rawValue)), JSONB((contactKinds ?? current.contactKinds).map(\.rawValue)),
                    actor,
                ]
            ).single()
            return try Self.values(from: row)
        }
    }
}

extension RequestCases {
    /// A person files a request through their personal link or logged in to the customer area:
    /// either proves who they are, so the case starts verified. Refused (422) for kinds the
    /// settings do not offer.
    public func file(_ kind: Kind, details: String?, by person: Person, loggedIn: Bool = false) async throws -> Case {
        let settings = try await RequestSettings(database: database).current()
        guard settings.allows(kind, for: person.kind) else {
            throw DomainError.invalid([
                FieldError(field: "kind", message: "\(kind.rawValue) requests cannot be filed here; contact the controller")
            ])
        }
        return try await open(
            NewCase(
                kind: kind, subject: person.dataSubject,
                channel: loggedIn ? .customerArea : .link, details: details, verificationMethod: loggedIn ? .customerArea : .personalLink
            ),
            by: nil
        )
    }

    /// The person's own cases: filed as this lead or contact, or as the lead this contact was.
    public func cases(of person: Person, after cursor: Cursor?, limit: Int) async throws -> Page<Case> {
        var ids = [person.id]
        if person.kind == .contact {
            ids += try await database.query("SELECT id FROM leads WHERE converted_contact_id = $1", [person.id]).map { try $0.decode("id") }
        }
        var filter = Filter()
        filter.subjectIDs = ids
        return try await list(filter, after: cursor, limit: limit)
    }
}
