import Foundation
import JSONText
import Postgres

/// Whom a retention policy matches now, and why: each lead or contact whose last activity is
/// older than the policy's period (and, for leads, whose status it names), with what exempts
/// them. One query serves the preview and the run, so the preview is what the run erases.
public enum RetentionPreview {
    /// Why a matched person is not erased.
    public enum Exemption: Sendable, Equatable {
        /// A legal hold on them (or on their customer) is in force.
        case legalHold(UUID)
        /// A request case of theirs is open: it must be answered first (an access request
        /// answered with nothing, say).
        case openRequest(UUID)
        /// Their processing is restricted (GDPR Art. 18): the data is stored until lifted.
        case restricted(UUID)

        public var code: String {
            switch self {
            case .legalHold: "legal_hold"
            case .openRequest: "open_request"
            case .restricted: "restricted"
            }
        }

        public var id: UUID {
            switch self {
            case .legalHold(let id), .openRequest(let id), .restricted(let id): id
            }
        }
    }

    public struct Match: Sendable, Equatable {
        public let subject: DataSubject
        public let lastActivityAt: Date
        /// The lead's status (nil for contacts).
        public let status: String?
        public let exemption: Exemption?

        /// The reason in words: what the policy found.
        public func reason(_ policy: RetentionPolicies.Policy) -> String {
            let since = RFC3339.string(from: lastActivityAt).prefix(10)
            var text = "no activity since \(since), more than \(policy.inactiveMonths) months ago"
            if policy.activityOf == .customer { text = "their customer: " + text }
            if let status, policy.leadStatuses != nil { text += "; status \(status)" }
            return text
        }
    }

    public struct Page: Sendable {
        /// How many people the policy matches now, and how many of them are exempt.
        public let matched: Int
        public let exempt: Int
        public let matches: [Match]
        /// The last subject id of this page, when more follow.
        public let nextAfter: UUID?
    }

    /// A page of matches ordered by id, after `after`; `only` narrows to one record (the run's
    /// check under its locks).
    static func page(
        _ policy: RetentionPolicies.Policy, after: UUID?, limit: Int, only: UUID? = nil, on session: some Queryable
    ) async throws -> Page {
        let rows = try await session.query(
            sql(policy), [policy.inactiveMonths, after, limit + 1, only, policy.leadStatuses.map(ArrayLiteral.texts)])
        var matched = 0
        var exempt = 0
        var matches: [Match] = []
        for row in rows.prefix(limit) {
            matched = try row.decode("matched")
            exempt = try row.decode("exempt")
            let id: UUID = try row.decode("id")
            let exemption: Exemption? =
                if let hold: UUID = try row.decode("legal_hold_id") {
                    .legalHold(hold)
                } else if let request: UUID = try row.decode("open_request_id") {
                    .openRequest(request)
                } else if let restriction: UUID = try row.decode("restriction_id") {
                    .restricted(restriction)
                } else {
                    nil
                }
            matches.append(
                Match(
                    subject: DataSubject(policy.subjectType == .lead ? .lead : .contact, id: id),
                    lastActivityAt: try row.decode("last_activity_at"), status: try row.decode("status"), exemption: exemption))
        }
        return Page(matched: matched, exempt: exempt, matches: matches, nextAfter: rows.count > limit ? matches.last?.subject.id : nil)
    }

    /// $1 months, $2 after id, $3 limit, $4 only this id, $5 lead statuses. Cheap column tests
    /// come before the activity functions, so only records unchanged for the period pay for them.
    static func sql(_ policy: RetentionPolicies.Policy) -> String {
        let cutoff = "now() - make_interval(months => $1::int)"
        let candidates: String
        switch (policy.subjectType, policy.activityOf) {
        case (.lead, _):
            candidates = """
                SELECT l.id, l.status, public.lead_last_activity(l.id) AS last_activity_at,
                       public.legal_hold_in_force('lead', l.id) AS legal_hold_id,
                       (SELECT rc.id FROM request_cases rc WHERE rc.subject_id = l.id AND rc.status IN ('received', 'in_progress')
                        ORDER BY rc.received_at, rc.id LIMIT 1) AS open_request_id,
                       public.restriction_in_force(l.id) AS restriction_id
                FROM leads l
                WHERE l.converted_at IS NULL AND ($5::text[] IS NULL OR l.status = ANY ($5::text[]))
                  AND ($4::uuid IS NULL OR l.id = $4)
                  AND l.created_at < \(cutoff) AND l.updated_at < \(cutoff) AND coalesce(l.last_contacted_at < \(cutoff), true)
                """
        case (.contact, let activityOf):
            let activity = activityOf == .customer ? "public.customer_last_activity(c.customer_id)" : "public.contact_last_activity(c.id)"
            candidates = """
                SELECT c.id, NULL::text AS status, \(activity) AS last_activity_at,
                       public.legal_hold_in_force('contact', c.id) AS legal_hold_id,
                       (SELECT rc.id FROM request_cases rc
                        WHERE (rc.subject_id = c.id OR rc.subject_id IN (SELECT l.id FROM leads l WHERE l.converted_contact_id = c.id))
                          AND rc.status IN ('received', 'in_progress')
                        ORDER BY rc.received_at, rc.id LIMIT 1) AS open_request_id,
                       coalesce(public.restriction_in_force(c.id), public.restriction_in_force(c.customer_id)) AS restriction_id
                FROM contacts c
                WHERE ($4::uuid IS NULL OR c.id = $4)
                  AND c.created_at < \(cutoff) AND c.updated_at < \(cutoff)
                """
        }
        return """
            WITH parameters AS (SELECT $1::int, $2::uuid, $3::int, $4::uuid, $5::text[]),
            candidates AS (\(candidates)),
            matched AS (
                SELECT m.*, count(*) OVER () AS matched,
                       count(*) FILTER (WHERE m.legal_hold_id IS NOT NULL OR m.open_request_id IS NOT NULL OR m.restriction_id IS NOT NULL)
                           OVER () AS exempt
                FROM candidates m WHERE m.last_activity_at < \(cutoff)
            )
            SELECT * FROM matched WHERE $2::uuid IS NULL OR id > $2::uuid ORDER BY id LIMIT $3
            """
    }
}
