import CustodianCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

@testable import CustodianHTTP

/// Input that once reached the database and came back as a 500; each is a 4xx naming the field.
@Suite("Hostile input is a 4xx naming the field, never a 500")
struct HostileInputTests {
    private func expectInvalid(
        _ response: TestResponse, field: String, status: HTTPResponse.Status = .unprocessableContent,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        #expect(response.status == status, "\(response.text)", sourceLocation: sourceLocation)
        if status == .unprocessableContent {
            let fields = (try response.json()["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String }
            #expect(fields.contains(field), "errors name \(fields)", sourceLocation: sourceLocation)
        }
    }

    @Test func aNULInAnyQueryParameter() async throws {
        try await StaffFixture.withApp { fixture, client in
            for (path, field) in [
                ("/v1/leads?q=%00", "q"), ("/v1/leads?status=a%00b", "status"), ("/v1/contacts?q=x%00", "q"),
                ("/v1/customers?cursor=%00", "cursor"), ("/v1/staff?role=%00", "role"),
            ] {
                let response = try await client.send(.get, path, headers: headers(key: fixture.adminKey))
                try expectInvalid(response, field: field)
            }
        }
    }

    @Test func aNULInsideACustomFieldValueOrOption() async throws {
        try await StaffFixture.withApp { fixture, client in
            _ = try await client.create(
                "/v1/custom-fields", key: fixture.adminKey, #"{"entity": "lead", "key": "notes", "label": "Notes", "type": "textarea"}"#
            )
            let value = try await client.send(
                .post, "/v1/leads", headers: headers(key: fixture.adminKey, json: true),
                body: #"{"name": "Ada", "custom_fields": {"notes": "a\u0000b"}}"#
            )
            try expectInvalid(value, field: "custom_fields.notes")
            let option = try await client.send(
                .post, "/v1/custom-fields", headers: headers(key: fixture.adminKey, json: true),
                body: #"{"entity": "lead", "key": "tier", "label": "Tier", "type": "select", "options": ["gold", "sil\u0000ver"]}"#
            )
            try expectInvalid(option, field: "options[1]")
            let pageText = try await client.send(
                .patch, "/v1/settings/consent", headers: headers(key: fixture.adminKey, json: true), body: #"{"page_text": "\u0000"}"#
            )
            try expectInvalid(pageText, field: "page_text")
            #expect(try await fixture.pool.query("SELECT 1 FROM leads").isEmpty)
        }
    }

    @Test func aCursorOutsideAnyTimestampPostgreSQLCanHold() async throws {
        try await StaffFixture.withApp { fixture, client in
            for micros in ["9223372036854775807", "-9223372036854775808", "253402300800000000"] {
                let token = Data("\(micros):\(UUID().uuidString.lowercased())".utf8).base64URLEncoded
                for path in ["/v1/leads", "/v1/staff", "/v1/consent-purposes"] {
                    let response = try await client.send(.get, "\(path)?cursor=\(token)", headers: headers(key: fixture.adminKey))
                    #expect(response.status == .badRequest, "\(path) \(micros)")
                    #expect(try response.json()["type"] as? String == "urn:custodian:problem:invalid-cursor")
                }
            }
        }
    }

    @Test func textLongerInCodePointsThanItLooks() async throws {
        try await StaffFixture.withApp { fixture, client in
            // Each "é" here is two code points (e + combining acute) but one character to Swift.
            let decomposed = { (count: Int) in String(repeating: "e\u{301}", count: count) }
            let leadID = try #require(try await client.create("/v1/leads", key: fixture.adminKey, #"{"name": "Ada"}"#)["id"] as? String)
            let cases: [(HTTPRequest.Method, String, String, String)] = [
                (.post, "/v1/leads/\(leadID)/notes", #"{"text": "\#(decomposed(6000))"}"#, "text"),
                (.post, "/v1/staff", #"{"name": "\#(decomposed(150))", "role": "staff"}"#, "name"),
                (
                    .post, "/v1/consent-purposes",
                    #"{"name": "\#(decomposed(150))", "description": "d", "lawful_basis": "consent", "applies_to": "both"}"#, "name"
                ),
                (.post, "/v1/custom-fields", #"{"entity": "lead", "key": "k", "label": "\#(decomposed(150))", "type": "text"}"#, "label"),
                (.patch, "/v1/settings/consent", #"{"page_text": "\#(decomposed(6000))"}"#, "page_text"),
                (.patch, "/v1/settings/consent", #"{"controller_name": "\#(decomposed(150))"}"#, "controller_name"),
            ]
            for (method, path, body, field) in cases {
                let response = try await client.send(method, path, headers: headers(key: fixture.adminKey, json: true), body: body)
                try expectInvalid(response, field: field)
            }
        }
    }

    @Test func anEmailIsCheckedByCodePointsAsTheContractsPatternIs() async throws {
        // The fuzzer's find: a combining mark right after the "@" made Swift see one character
        // "@\u{1DC5}" and no "@" at all, so a schema-valid address got 422.
        try await StaffFixture.withApp { fixture, client in
            let key = fixture.adminKey
            let accepted = try await client.create("/v1/leads", key: key, #"{"name": "Mark", "email": "ø\u011c@\u1dc5x\u0131z.\u00e1n"}"#)
            #expect(accepted["email"] as? String == "ø\u{11C}@\u{1DC5}x\u{131}z.\u{E1}n")
            for bad in [#"a@b"#, #"@b.c"#, #"a@b@c.d"#, #"a\u2003b@c.d"#, #"a@b\u00a0c.d"#] {
                let response = try await client.send(
                    .post, "/v1/leads", headers: headers(key: key, json: true), body: #"{"name": "Mark", "email": "\#(bad)"}"#)
                try expectInvalid(response, field: "email")
            }
        }
    }

    @Test func datesBeforeYearOneOrAfterYear9999() async throws {
        try await StaffFixture.withApp { fixture, client in
            _ = try await client.create(
                "/v1/custom-fields", key: fixture.adminKey, #"{"entity": "lead", "key": "born", "label": "Born", "type": "date"}"#
            )
            for stamp in ["0000-01-01T00:00:00Z", "10000-01-01T00:00:00Z", "-0001-01-01T00:00:00Z"] {
                let body = #"{"name": "Ada", "last_contacted_at": "\#(stamp)"}"#
                try expectInvalid(
                    try await client.send(.post, "/v1/leads", headers: headers(key: fixture.adminKey, json: true), body: body),
                    field: "last_contacted_at"
                )
                let query = stamp.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? stamp
                try expectInvalid(
                    try await client.send(.get, "/v1/leads?created_from=\(query)", headers: headers(key: fixture.adminKey)),
                    field: "created_from"
                )
            }
            try expectInvalid(
                try await client.send(
                    .post, "/v1/leads", headers: headers(key: fixture.adminKey, json: true),
                    body: #"{"name": "Ada", "custom_fields": {"born": "0000-02-29"}}"#
                ),
                field: "custom_fields.born"
            )
            let fine = try await client.send(
                .post, "/v1/leads", headers: headers(key: fixture.adminKey, json: true),
                body: #"{"name": "Ada", "last_contacted_at": "0001-01-01T00:00:00Z", "custom_fields": {"born": "9999-12-31"}}"#
            )
            #expect(fine.status == .created)
        }
    }

    @Test func longClientMetadataIsCutNotRefused() async throws {
        let settings = ServerSettings(trustedProxies: [try #require(IPNetwork("0.0.0.0/0")), try #require(IPNetwork("::/0"))])
        try await StaffFixture.withApp(settings: settings) { fixture, client in
            let purpose = try #require(
                try await client.create(
                    "/v1/consent-purposes", key: fixture.adminKey,
                    #"{"name": "News", "description": "d", "lawful_basis": "consent", "applies_to": "both"}"#
                )["id"] as? String)
            let leadID = try #require(try await client.create("/v1/leads", key: fixture.adminKey, #"{"name": "Ada"}"#)["id"] as? String)
            var fields = headers(key: fixture.adminKey, json: true)
            fields[.userAgent] = String(repeating: "e\u{301}", count: 3000)
            fields[.xForwardedFor] = String(repeating: "1.2.3.4, ", count: 500) + "not-an-address"
            let response = try await client.send(
                .post, "/v1/leads/\(leadID)/consents", headers: fields, body: #"{"purpose_id": "\#(purpose)", "action": "give"}"#
            )
            #expect(response.status == .created)
            let row = try await fixture.pool.query("SELECT length(user_agent) AS length, ip FROM consent_records").single()
            #expect(try row.decode("length", as: Int.self) == 1000)
        }
    }

    @Test func databaseErrorsAClientCanCauseAreTheirsToFix() {
        func status(_ sqlState: String, _ kind: PostgresError.Kind = .other) -> Int {
            let error = PostgresError(kind: kind, sqlState: sqlState, message: "x", detail: "Failing row contains (secret@example.org)")
            return ProblemMiddleware.problem(for: error, logger: TestPostgres.logger).problem.status
        }
        #expect(status("22008") == 422)
        #expect(status("22P05") == 422)
        #expect(status("22001") == 422)
        #expect(status("23514", .checkViolation) == 422)
        #expect(status("23502", .notNullViolation) == 422)
        #expect(status("23503", .foreignKeyViolation) == 422)
        #expect(status("23505", .uniqueViolation) == 409)
        #expect(status("23001") == 409)
        #expect(status("23P01", .exclusionViolation) == 409)
        #expect(status("55P03", .timeout) == 503)
        #expect(status("57014", .timeout) == 503)
        #expect(status("40001", .serializationFailure) == 409)
        #expect(status("42601") == 500)
        #expect(status("42P01") == 500)
    }
}
