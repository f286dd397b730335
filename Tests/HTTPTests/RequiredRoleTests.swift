import CustodianCore
import Foundation
import HTTPTypes
import JSONText
import TestSupport
import Testing

/// Roles are part of the contract (`x-required-role` on every operation a staff key calls), so a
/// generated client and its users know what a key may do before they try. The server is asked,
/// not trusted: each operation is called with a key of every role, lowest first, and the first
/// role it does not refuse with 403 must be the one the contract names.
@Suite("Each staff operation names the least role it needs, and the server holds to it")
struct RequiredRoleTests {
    @Test func theFirstRoleLetInIsTheDocumentedOne() async throws {
        try await StaffFixture.withApp { fixture, client in
            var keys: [StaffRole: String] = [:]
            for role in StaffRole.allCases { keys[role] = try await fixture.key(role: role) }
            let ascending = StaffRole.allCases.sorted()
            for operation in Self.staffOperations() {
                // Unknown ids and an empty body: the role is checked before either is looked at,
                // and an operation a role may do then stops at 404 or 422 without changing anything.
                let path = operation.path
                    .replacingOccurrences(of: "{id}", with: UUID().uuidString.lowercased())
                    .replacingOccurrences(of: "{kind}", with: "terms")
                var admitted: StaffRole?
                for role in ascending {
                    let response = try await client.send(
                        operation.method, path, headers: headers(key: keys[role], json: operation.takesBody),
                        body: operation.takesBody ? "{}" : nil)
                    if response.status != .forbidden {
                        admitted = role
                        break
                    }
                }
                #expect(
                    admitted?.rawValue == operation.requiredRole,
                    "\(operation.method) \(operation.path): x-required-role is \(operation.requiredRole ?? "missing"), the server first admits \(admitted?.rawValue ?? "no role")"
                )
            }
        }
    }

    struct StaffOperation {
        let method: HTTPRequest.Method
        let path: String
        let takesBody: Bool
        let requiredRole: String?
    }

    /// Every operation whose security names `staffApiKey`, in a stable order.
    static func staffOperations() -> [StaffOperation] {
        var operations: [StaffOperation] = []
        for (path, item) in OpenAPIContract.shared.document["paths"]?.object ?? [:] {
            for (method, operation) in item.object ?? [:] {
                guard let method = HTTPRequest.Method(method.uppercased()),
                    operation["security"]?.array?.contains(where: { $0["staffApiKey"] != nil }) == true
                else { continue }
                operations.append(
                    StaffOperation(
                        method: method, path: path, takesBody: operation["requestBody"] != nil,
                        requiredRole: operation["x-required-role"]?.string))
            }
        }
        return operations.sorted { ($0.path, $0.method.rawValue) < ($1.path, $1.method.rawValue) }
    }
}
