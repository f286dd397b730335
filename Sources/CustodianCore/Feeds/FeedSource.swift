import Foundation
import Postgres

/// What a feed serves: the rows it reads (each with an `id` and `restricted`), the columns of an
/// upsert line, and how that line is written.
struct FeedSource {
    /// A table, or a parenthesised query, that the feed's SQL names as `t`.
    let from: String
    /// The columns after the leading ones (`FeedLines.leadingColumns`), over `t`.
    let selectList: String
    private let writeUpsert: (Row, FeedCursor, inout [UInt8]) throws -> Void

    init(_ feed: Feeds.Feed) {
        switch feed {
        case .leads: self.init(records: Leads.table)
        case .contacts: self.init(records: Contacts.table)
        case .customers: self.init(records: Customers.table)
        case .consents: self = Self.consents
        }
    }

    private init(from: String, selectList: String, writeUpsert: @escaping (Row, FeedCursor, inout [UInt8]) throws -> Void) {
        self.from = from
        self.selectList = selectList
        self.writeUpsert = writeUpsert
    }

    /// A CRM record feed: the record in the single read's shape.
    private init(records table: RecordTable) {
        let lines = FeedLines(table: table, alias: "t")
        self.init(from: table.table, selectList: lines.selectList) { row, cursor, output in
            try lines.upsert(row, cursor: cursor, into: &output)
        }
    }

    func upsert(_ row: Row, cursor: FeedCursor, into output: inout [UInt8]) throws {
        try writeUpsert(row, cursor, &output)
    }

    /// The consents feed: people with a consent history, each line their state per purpose they
    /// decided on (`ConsentLedger`'s states: a request counts as pending while it can still be
    /// confirmed). A converted lead lists no purposes and names its contact, where the person's
    /// consent lives now. The line's JSON is written by PostgreSQL, in one column.
    static var consents: FeedSource {
        FeedSource(
            from: """
                (SELECT l.id, 'lead' AS person_type, l.restricted, l.converted_at IS NOT NULL AS converted, l.converted_contact_id
                 FROM leads l WHERE EXISTS (SELECT 1 FROM consent_records r WHERE r.lead_id = l.id)
                 UNION ALL
                 SELECT c.id, 'contact', c.restricted, false, NULL::uuid
                 FROM contacts c WHERE EXISTS (SELECT 1 FROM consent_records r WHERE r.contact_id = c.id))
                """,
            selectList: """
                jsonb_build_object(
                    'person_type', t.person_type, 'person_id', t.id, 'converted_contact_id', t.converted_contact_id,
                    'purposes', CASE WHEN t.converted THEN '[]'::jsonb ELSE coalesce((
                        SELECT jsonb_agg(jsonb_build_object(
                            'purpose_id', p.id, 'state', st.state,
                            'purpose_version', \(ConsentLedger.stateRecord("purpose_version")),
                            'changed_at', to_char(
                                (\(ConsentLedger.stateRecord("recorded_at"))) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
                        ) ORDER BY p.created_at, p.id)
                        FROM consent_purposes p \(ConsentLedger.stateJoins(person: "t.id"))
                        CROSS JOIN LATERAL (SELECT \(ConsentLedger.stateExpression()) AS state) st
                        WHERE latest.action IS NOT NULL), '[]'::jsonb) END
                )::text AS consent_line
                """
        ) { row, cursor, output in
            output.append(contentsOf: "{\"op\":\"upsert\",\"cursor\":\"".utf8)
            cursor.encode(into: &output)
            output.append(contentsOf: "\",\"record\":".utf8)
            output.append(contentsOf: try FeedLines.required(row, FeedLines.leadingColumns).utf8)
            output.append(contentsOf: "}\n".utf8)
        }
    }
}
