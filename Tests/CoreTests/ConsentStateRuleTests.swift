import Foundation
import Postgres
import TestSupport
import Testing

@testable import CustodianCore

/// The one rule that makes a state of a person's records for a purpose (answers, the privacy
/// centre, exports and the consents feed all read it), evaluated by PostgreSQL on the newest
/// record and the newest decision but requests. A request older than its lifetime cannot be
/// made by the API (the chain stamps every record with now), so its lapse is checked here.
@Suite("Consent state: a request is pending while it can be confirmed, then the decision before it stands")
struct ConsentStateRuleTests {
    @Test func eachHistoryMakesItsState() async throws {
        let lapsed = Date(timeIntervalSinceNow: -ConsentLedger.confirmationLifetime - 60)
        let fresh = Date(timeIntervalSinceNow: -60)
        let cases: [(latest: String?, at: Date?, decided: String?, state: ConsentLedger.State)] = [
            (nil, nil, nil, .notAsked),
            ("give", fresh, "give", .given),
            ("confirm", fresh, "confirm", .given),
            ("withdraw", fresh, "withdraw", .withdrawn),
            ("object", fresh, "object", .objected),
            ("request", fresh, nil, .pending),
            ("request", fresh, "withdraw", .pending),
            ("request", fresh, "object", .pending),
            ("request", lapsed, nil, .notAsked),
            ("request", lapsed, "withdraw", .withdrawn),
            ("request", lapsed, "object", .objected),
        ]
        try await TestPostgres.shared.withDatabase { database in
            try await database.withPool { pool in
                for item in cases {
                    let row = try await pool.query(
                        """
                        SELECT \(ConsentLedger.stateExpression()) AS consent_state
                        FROM (SELECT $1::text AS action, $2::timestamptz AS recorded_at) latest, (SELECT $3::text AS action) decided
                        """, [item.latest, item.at, item.decided]
                    ).single()
                    #expect(try ConsentLedger.state(from: row) == item.state, "\(item)")
                }
            }
        }
    }
}
