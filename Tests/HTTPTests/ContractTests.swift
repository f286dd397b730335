import CustodianHTTP
import Foundation
import Postgres
import TestSupport
import Testing

@Suite("openapi.yaml and the server describe the same API")
struct ContractTests {
    @Test func everyServedEndpointIsDocumentedAndEveryDocumentedOneServed() async throws {
        let pool = PostgresPool(configuration: .init(connectionString: "dbname=unused"), logger: TestPostgres.logger)
        let catalog = buildRouter(settings: ServerSettings(), database: pool).catalog
        let served = Set(catalog.endpoints.map { OpenAPIContract.Operation(method: $0.method.rawValue, path: $0.path) })
        let documented = OpenAPIContract.shared.operations
        #expect(served.subtracting(documented).isEmpty, "served but not in openapi.yaml: \(served.subtracting(documented))")
        #expect(documented.subtracting(served).isEmpty, "in openapi.yaml but not served: \(documented.subtracting(served))")
        await pool.close()
    }

    @Test func theDocumentIsSelfConsistent() {
        #expect(OpenAPIContract.shared.selfCheck() == [])
    }

    /// Examples are what generated clients and readers of the contract see first; each must be
    /// an answer the contract allows (scripts/contract-examples takes them from real answers).
    @Test func everyExampleFitsItsSchemaAndEveryAnswerHasOne() {
        #expect(OpenAPIContract.shared.exampleViolations() == [])
        var withoutExample: [String] = []
        for (path, item) in OpenAPIContract.shared.document["paths"]?.object ?? [:] {
            for (method, operation) in item.object ?? [:] where method != "parameters" {
                for (status, response) in operation["responses"]?.object ?? [:] where status.hasPrefix("2") {
                    for (mediaType, media) in response["content"]?.object ?? [:]
                    where mediaType != "text/html" && media["example"] == nil {
                        withoutExample.append("\(method.uppercased()) \(path) \(status) \(mediaType)")
                    }
                }
            }
        }
        #expect(withoutExample.sorted() == [])
    }

    @Test func theCheckerRejectsAResponseTheDocumentDoesNotAllow() {
        let contract = OpenAPIContract.shared
        let wrongShape = contract.violations(
            method: "GET", path: "/healthz", status: 200,
            headers: ["Content-Type": "application/json", "X-Request-Id": "x"],
            body: Data(#"{"status": "fine", "extra": 1}"#.utf8)
        )
        #expect(wrongShape.count == 2)
        let missingHeader = contract.violations(
            method: "GET", path: "/healthz", status: 200,
            headers: ["Content-Type": "application/json"],
            body: Data(#"{"status": "ok"}"#.utf8)
        )
        #expect(missingHeader.contains { $0.contains("missing header X-Request-Id") })
        let undocumentedPath = contract.violations(method: "GET", path: "/nope", status: 200, headers: [:], body: Data())
        #expect(undocumentedPath.count == 1)
        let problemAsJSON = contract.violations(
            method: "GET", path: "/readyz", status: 503,
            headers: ["Content-Type": "application/json", "X-Request-Id": "x", "Retry-After": "5"],
            body: Data(#"{"type": "urn:custodian:problem:database-unavailable", "title": "t", "status": 503}"#.utf8)
        )
        #expect(problemAsJSON.contains { $0.contains("content type") })
    }

    /// Answers are open in the contract (clients tolerate new fields) but checked closed here, and
    /// a feed line is checked against the branch its `op` names.
    @Test func theCheckerHoldsAnswersToWhatIsDocumentedToday() {
        let contract = OpenAPIContract.shared
        let headers = ["Content-Type": "application/x-ndjson", "X-Request-Id": "x"]
        let id = "8d0c6d36-8d8a-4a55-9a55-2b1f4c1f6b10"
        let checkpoint = #"{"op":"checkpoint","cursor":"AQEBAQEAAA"}"#
        let fine = contract.violations(
            method: "GET", path: "/v1/feeds/leads", status: 200, headers: headers,
            body: Data("{\"op\":\"erased\",\"cursor\":\"AQEBAQEAAA\",\"id\":\"\(id)\"}\n\(checkpoint)\n".utf8))
        #expect(fine == [])
        let undocumentedMember = contract.violations(
            method: "GET", path: "/v1/feeds/leads", status: 200, headers: headers,
            body: Data("{\"op\":\"checkpoint\",\"cursor\":\"AQEBAQEAAA\",\"extra\":1}\n".utf8))
        #expect(undocumentedMember.contains { $0.contains("property 'extra' is not in the schema") })
        let upsertWithoutRecord = contract.violations(
            method: "GET", path: "/v1/feeds/leads", status: 200, headers: headers,
            body: Data("{\"op\":\"upsert\",\"cursor\":\"AQEBAQEAAA\",\"id\":\"\(id)\"}\n".utf8))
        #expect(upsertWithoutRecord.contains { $0.contains("missing required property 'record'") })
        let unknownOp = contract.violations(
            method: "GET", path: "/v1/feeds/leads", status: 200, headers: headers,
            body: Data("{\"op\":\"moved\",\"cursor\":\"AQEBAQEAAA\"}\n".utf8))
        #expect(unknownOp.contains { $0.contains("names no branch of the discriminator") })
    }
}
