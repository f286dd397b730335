import Foundation
import Postgres

/// DELETE is for records entered by mistake. A person with a history that must stay provable
/// (consent decisions, requests they made, policies they accepted) is removed by erasing them, which leaves the proof.
enum PersonHistory {
    static func refuseDeletion(of subject: DataSubject, on transaction: PostgresSession) async throws {
        let hasHistory: Bool = try await transaction.query(
            """
            WITH people AS (
                SELECT $2::uuid AS id
                UNION ALL SELECT id FROM contacts WHERE $1::text = 'customer' AND customer_id = $2::uuid
            )
            SELECT EXISTS (SELECT 1 FROM consent_records WHERE lead_id IN (SELECT id FROM people) OR contact_id IN (SELECT id FROM people))
                OR EXISTS (SELECT 1 FROM request_cases WHERE subject_id IN (SELECT id FROM people))
                OR EXISTS (SELECT 1 FROM policy_acceptances WHERE subject_id IN (SELECT id FROM people)) AS has_history
            """,
            [subject.kind.rawValue, subject.id]
        ).single().decode("has_history")
        if hasHistory {
            throw DomainError.conflict(
                """
                this \(subject.kind.rawValue) has consent history, request cases or policy acceptances, which must stay provable; DELETE is for records \
                entered by mistake. To remove the person, file an erasure request (POST /v1/requests with kind erasure) and \
                erase it (POST /v1/requests/{id}/erase)
                """
            )
        }
    }
}
