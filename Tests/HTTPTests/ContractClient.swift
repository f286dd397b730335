import CustodianHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Postgres
import TestSupport
import Testing

/// Endpoints under this prefix are added by tests only; they are not part of the contract.
let testOnlyPrefix = "/test-only/"

/// Sends requests through the real router and checks every response against `openapi.yaml`.
struct ContractClient {
    let client: any TestClientProtocol

    @discardableResult
    func send(
        _ method: HTTPRequest.Method,
        _ uri: String,
        headers: HTTPFields = [:],
        body: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> TestResponse {
        try await send(method, uri, headers: headers, bytes: body.map { Array($0.utf8) }, sourceLocation: sourceLocation)
    }

    @discardableResult
    func send(
        _ method: HTTPRequest.Method,
        _ uri: String,
        headers: HTTPFields = [:],
        bytes: [UInt8]?,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> TestResponse {
        // Like every real HTTP/1.1 client: a body comes with its length unless it is sent chunked.
        var headers = headers
        if let bytes, headers[.contentLength] == nil, headers[.transferEncoding] == nil {
            headers[.contentLength] = "\(bytes.count)"
        }
        let response = try await client.execute(
            uri: uri,
            method: method,
            headers: headers,
            body: bytes.map { ByteBuffer(bytes: $0) }
        )
        var responseHeaders: [String: String] = [:]
        for field in response.headers { responseHeaders[field.name.canonicalName] = field.value }
        let path = String(uri.split(separator: "?", maxSplits: 1).first ?? "")
        let status = Int(response.status.code)
        let body = Data(response.body.readableBytesView)
        let violations: [String]
        if path.hasPrefix(testOnlyPrefix) {
            violations =
                status >= 400
                ? OpenAPIContract.shared.problemViolations(status: status, headers: responseHeaders, body: body) : []
        } else {
            violations = OpenAPIContract.shared.violations(
                method: method.rawValue, path: path, status: status, headers: responseHeaders, body: body
            )
        }
        AnswerRecorder.record(method: method.rawValue, uri: uri, status: status, headers: responseHeaders, body: body)
        for violation in violations {
            Issue.record("contract: \(violation)", sourceLocation: sourceLocation)
        }
        return response
    }
}

/// Builds the application on `pool` and runs `body` with a contract-checking client.
func withApp<Result: Sendable>(
    database pool: PostgresPool,
    publicDatabase: PostgresPool? = nil,
    settings: ServerSettings = ServerSettings(),
    logger: Logger = TestPostgres.logger,
    extraRoutes: (inout RouteTable) -> Void = { _ in },
    _ body: @Sendable (ContractClient) async throws -> Result
) async throws -> Result {
    let router = buildRouter(settings: settings, database: pool, publicDatabase: publicDatabase, logger: logger, extraRoutes: extraRoutes)
        .router
    let app = Application(router: router, logger: logger)
    return try await app.test(.router) { client in
        try await body(ContractClient(client: client))
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }

    func json() throws -> [String: Any] {
        let value = try JSONSerialization.jsonObject(with: Data(body.readableBytesView))
        return try #require(value as? [String: Any])
    }
}
