import Foundation
import Postgres

/// The consent feature's settings: one row, changed by admins.
public struct ConsentSettings: Sendable {
    public struct Values: Sendable {
        public var controllerName: String
        public var contactsEnabled: Bool
        public var leadsEnabled: Bool
        public var pageText: String
        /// nil: links never expire.
        public var linkLifetimeDays: Int?
        public var revision: Int64
        public var updatedAt: Date

        public func enabled(for kind: Person.Kind) -> Bool {
            switch kind {
            case .lead: leadsEnabled
            case .contact: contactsEnabled
            }
        }
    }

    let database: PostgresPool

    public init(database: PostgresPool) { self.database = database }

    static let columns = "controller_name, contacts_enabled, leads_enabled, page_text, link_lifetime_days, revision, updated_at"

    /// `columns` of the table aliased `alias`, for a statement that joins it to others.
    static func columns(of alias: String) -> String {
        columns.split(separator: ", ").map { "\(alias).\($0)" }.joined(separator: ", ")
    }

    static func values(from row: Row) throws -> Values {
        Values(
            controllerName: try row.decode("controller_name"),
            contactsEnabled: try row.decode("contacts_enabled"),
            leadsEnabled: try row.decode("leads_enabled"),
            pageText: try row.decode("page_text"),
            linkLifetimeDays: try row.decode("link_lifetime_days"),
            revision: try row.decode("revision"),
            updatedAt: try row.decode("updated_at")
        )
    }

    static let settings = SettingsTable(table: "consent_settings", columns: columns, values: values(from:))

    public func current(on database: some Queryable) async throws -> Values { try await Self.settings.current(on: database) }

    public func current() async throws -> Values {
        try await current(on: database)
    }

    public struct Changes: Sendable {
        public var controllerName: String?
        public var contactsEnabled: Bool?
        public var leadsEnabled: Bool?
        public var pageText: String?
        /// `.some(nil)` makes links never expire.
        public var linkLifetimeDays: Int??

        public init() {}
    }

    public func update(_ changes: Changes, expectedRevision: Int64?, by actor: UUID) async throws -> Values {
        try await database.transaction { transaction in
            let current = try await Self.settings.lock(expectedRevision: expectedRevision, in: transaction)
            let row = try await transaction.query(
                """
                UPDATE consent_settings SET controller_name = $1, contacts_enabled = $2, leads_enabled = $3, page_text = $4,
                    link_lifetime_days = $5, updated_by = $6
                RETURNING \(Self.columns)
                """,
                [
                    changes.controllerName ?? current.controllerName, changes.contactsEnabled ?? current.contactsEnabled,
                    changes.leadsEnabled ?? current.leadsEnabled, changes.pageText ?? current.pageText,
                    changes.linkLifetimeDays ?? current.linkLifetimeDays, actor,
                ]
            ).single()
            return try Self.values(from: row)
        }
    }
}
