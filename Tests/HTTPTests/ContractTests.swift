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
}
