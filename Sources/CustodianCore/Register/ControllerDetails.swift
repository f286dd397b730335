import Foundation
import JSONText
import Postgres

/// Who is responsible for the data (GDPR Art. 13(1)(a), (b), 30(1)(a)): the controller's
/// address and contact (its name is the consent settings' `controller_name`), its data protection officer, its representative in the EU, and the
/// supervisory authority people may complain to. One row of settings; every value optional until
/// the operator fills it in.
public struct ControllerDetails: Sendable {
    public struct Values: Sendable, Equatable {
        /// The consent settings' `controller_name`, on every page and receipt: not typed twice.
        public internal(set) var name = ""
        public var address: String?
        public var email: String?
        public var phone: String?
        public var dpoName: String?
        public var dpoEmail: String?
        public var euRepresentative: String?
        public var supervisoryAuthorityName: String?
        public var supervisoryAuthorityURL: String?
        public internal(set) var revision: Int64 = 0
        public internal(set) var updatedAt = Date(timeIntervalSince1970: 0)

        public init() {}

        /// A value a change may set: its JSON member, which is also its column.
        public struct Field: Sendable {
            public let name: String
            let path: WritableKeyPath<Values, String?> & Sendable
            public let maxLength: Int
        }

        /// Every value, in the order they are shown.
        public static let fields: [Field] = [
            Field(name: "address", path: \.address, maxLength: 1000),
            Field(name: "email", path: \.email, maxLength: 320),
            Field(name: "phone", path: \.phone, maxLength: 50),
            Field(name: "dpo_name", path: \.dpoName, maxLength: 200),
            Field(name: "dpo_email", path: \.dpoEmail, maxLength: 320),
            Field(name: "eu_representative", path: \.euRepresentative, maxLength: 1000),
            Field(name: "supervisory_authority_name", path: \.supervisoryAuthorityName, maxLength: 300),
            Field(name: "supervisory_authority_url", path: \.supervisoryAuthorityURL, maxLength: 500),
        ]

        public subscript(field: Field) -> String? { self[keyPath: field.path] }

        /// As people and the register see it: the officer and the authority grouped.
        public var json: JSONValue {
            .object([
                "name": .string(name), "address": .string(address), "email": .string(email), "phone": .string(phone),
                "dpo": dpoName == nil && dpoEmail == nil ? .null : .object(["name": .string(dpoName), "email": .string(dpoEmail)]),
                "eu_representative": .string(euRepresentative),
                "supervisory_authority": supervisoryAuthorityName == nil && supervisoryAuthorityURL == nil
                    ? .null : .object(["name": .string(supervisoryAuthorityName), "url": .string(supervisoryAuthorityURL)]),
            ])
        }
    }

    static let table = SettingsTable(
        table: "controller_settings",
        columns: Values.fields.map(\.name).joined(separator: ", ")
            + ", revision, updated_at, (SELECT controller_name FROM consent_settings) AS controller_name",
        values: { row in
            var values = Values()
            for field in Values.fields { values[keyPath: field.path] = try row.decode(field.name) }
            values.name = try row.decode("controller_name")
            values.revision = try row.decode("revision")
            values.updatedAt = try row.decode("updated_at")
            return values
        }
    )

    let database: PostgresPool

    public init(database: PostgresPool) { self.database = database }

    public func current() async throws -> Values { try await Self.table.current(on: database) }

    static func current(on session: some Queryable) async throws -> Values { try await table.current(on: session) }

    /// Sets the values `changes` names (a nil inside clears one) under If-Match.
    public func update(_ changes: [String: String?], expectedRevision: Int64?, by actor: UUID) async throws -> Values {
        try await database.transaction { transaction in
            var values = try await Self.table.lock(expectedRevision: expectedRevision, in: transaction)
            for field in Values.fields {
                if let change = changes[field.name] { values[keyPath: field.path] = change }
            }
            let assignments = Values.fields.enumerated().map { "\($0.element.name) = $\($0.offset + 1)" }.joined(separator: ", ")
            var parameters: [any PostgresBindable] = Values.fields.map { values[keyPath: $0.path] }
            parameters.append(actor)
            try await transaction.execute(
                "UPDATE controller_settings SET \(assignments), updated_by = $\(Values.fields.count + 1)", parameters)
            return try await Self.table.current(on: transaction)
        }
    }
}
