import Foundation
import JSONText
import Postgres

/// Who is acting in this task, for the audit trail: set once a request is authenticated (a staff
/// or integration key, a portal session, a personal link), with the route pattern, request id
/// and client address. Reads write their entry with it through its `writer`; changes get it
/// through the transaction's `custodian.audit` setting, which the database's change triggers
/// read (migration 0031).
public struct AuditActor: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case staff, integration, portal, link, person, system
    }

    public var kind: Kind
    public var staffID: UUID?
    public var keyID: UUID?
    public var sessionID: UUID?
    public var linkID: UUID?
    public var route: String?
    public private(set) var requestID: String?
    public var clientIP: String?
    /// Whether this actor's reads are recorded (`CUSTODIAN_AUDIT_READS`); changes always are.
    public var recordsReads = true
    /// Where this actor's reads are written (none: they are not).
    public var writer: AuditWriter?

    public init(
        kind: Kind, staffID: UUID? = nil, keyID: UUID? = nil, sessionID: UUID? = nil, linkID: UUID? = nil, route: String? = nil,
        requestID: String? = nil, clientIP: String? = nil
    ) {
        self.kind = kind
        self.staffID = staffID
        self.keyID = keyID
        self.sessionID = sessionID
        self.linkID = linkID
        self.route = route
        // A client's own X-Request-Id may be longer than the trail's column holds (migration
        // 0031): one such request must not fail the group of reads its entry is written with.
        self.requestID = requestID.map { String($0.prefix(Self.requestIDLimit)) }
        self.clientIP = clientIP
    }

    @TaskLocal public static var current: AuditActor?

    /// The longest request id the trail stores; a longer one keeps its first characters.
    public static let requestIDLimit = 100

    /// Runs `body` as this actor: its reads are recorded, and its transactions tell the
    /// database's change triggers who acts.
    public func acting<Result: Sendable>(_ body: () async throws -> Result) async throws -> Result {
        try await Self.$current.withValue(self) {
            try await PostgresSession.$transactionSettings.withValue(
                TransactionSettings { [(name: "custodian.audit", value: settingText)] }
            ) {
                try await body()
            }
        }
    }

    /// The `custodian.audit` setting: the entry's actor columns, as JSON.
    var settingText: String {
        let json = JSONValue.object([
            "actor_type": .string(kind.rawValue), "staff_id": .uuid(staffID), "key_id": .uuid(keyID),
            "session_id": .uuid(sessionID), "link_id": .uuid(linkID), "route": .string(route),
            "request_id": .string(requestID), "client_ip": .string(clientIP),
        ])
        return String(decoding: json.serialized(), as: UTF8.self)
    }
}
