import CustodianCore
import CustodianHTTP
import Foundation
import HTTPTypes
import JSONText
import Postgres
import TestSupport
import Testing

/// A backup restored after erasures would bring the erased back: the erasure journal, kept
/// outside the database and signed, erases them again — each through the same map-driven
/// erasure, once, however often it is replayed.
@Suite("Backups: a restore followed by the journal's replay brings back nobody erased")
struct BackupRestoreTests {
    @Test func aRestoredDumpHoldsNoValueOfThePeopleErasedSinceOnceTheJournalIsReplayed() async throws {
        let secrets = RetentionTests.settings.secrets
        try await StaffFixture.withApp(settings: RetentionTests.settings) { fixture, client in
            let admin = fixture.adminKey
            let marker = SeededPerson.marker()
            var leads: [String: String] = [:]
            for name in ["asked", "lapsed", "kept"] {
                let id = try await AuditTrailTests.lead(client, key: admin, "\(name)\(marker)")
                leads[name] = id
                // A note is activity: the lead a policy is to find has none.
                guard name != "lapsed" else { continue }
                let note = try await client.send(
                    .post, "/v1/leads/\(id)/notes", headers: headers(key: admin, json: true), body: #"{"text": "Met \#(name)\#(marker)."}"#)
                #expect(note.status == .created)
            }
            let request = try await client.openErasure(subjectType: "lead", subjectID: leads["asked"]!, key: admin)
            try await client.startErasure(request, key: admin)
            let dump = NSTemporaryDirectory() + "custodian-backup-\(UUID().uuidString).dump"
            defer { unlink(dump) }
            try fixture.database.dump(to: dump)

            // After the backup: one person erased at their request, one by a retention policy.
            #expect(try await client.send(.post, "/v1/requests/\(request)/erase", headers: headers(key: admin)).status == .ok)
            try await RetentionTests.age([leads["lapsed"]!], months: 30, fixture)
            let policy = try #require(
                try await client.create(
                    "/v1/retention-policies", key: admin, #"{"name": "Old leads", "subject_type": "lead", "inactive_months": 24}"#)["id"]
                    as? String)
            let run = try await RetentionRuns(database: fixture.pool, secrets: secrets, logger: TestPostgres.logger)
                .run(try #require(UUID(uuidString: policy)))
            #expect(run.erased.map(\.id.lowercasedString) == [leads["lapsed"]!])
            let journal = try await ErasureJournal(database: fixture.pool, secrets: secrets).export()
            #expect(journal["erasures"]?.array?.count == 2 && journal["suppressions"]?.array?.count == 2)
            #expect(!String(decoding: journal.serialized(), as: UTF8.self).contains(marker), "the journal holds no personal value")

            try await TestPostgres.shared.withEmptyDatabase { restored in
                try restored.restore(from: dump)
                let erasedValues = ["asked\(marker)", "lapsed\(marker)"]
                try await restored.withPool { superuser in
                    let before = try await DatabaseInspection.occurrences(of: erasedValues, in: superuser)
                    #expect(!before.isEmpty, "the backup holds them")
                }
                try await restored.withPool(role: .api) { api in
                    let replaying = ErasureJournal(database: api, secrets: secrets)
                    let first = try await replaying.replay(journal)
                    #expect(first.replayed == 2 && first.present == 0 && first.failed.isEmpty, "\(first.failed.map(\.reason))")
                    let again = try await replaying.replay(journal)
                    #expect(again.replayed == 0 && again.present == 2 && again.failed.isEmpty)
                    let status: String = try await api.query("SELECT status FROM request_cases WHERE id = $1::uuid", [request]).single()
                        .decode("status")
                    #expect(status == "completed", "the restored case ends as the erasure ended it")
                    let suppressed: Int = try await api.query("SELECT count(*) AS n FROM erasure_suppressions").single().decode("n")
                    #expect(suppressed == 2)
                }
                try await restored.withPool { superuser in
                    let found = try await DatabaseInspection.occurrences(of: erasedValues, in: superuser)
                    #expect(found.isEmpty, "\(found)")
                    let kept = try await DatabaseInspection.occurrences(of: ["kept\(marker)"], in: superuser)
                    #expect(!kept.isEmpty, "the person nobody erased is still there")
                }
                // A journal changed by hand is refused whole.
                var forged = journal.object ?? [:]
                forged["erasures"] = .array([])
                #expect(throws: ErasureJournal.JournalError.self) {
                    _ = try ErasureJournal(database: fixture.pool, secrets: secrets).read(.object(forged))
                }
            }
        }
    }
}
