import CustodianCore
import Foundation
import JSONText
import Yams

/// `openapi.yaml`, read once, and the checks every response the tests see must pass.
public final class OpenAPIContract: Sendable {
    public static let shared: OpenAPIContract = {
        do {
            return try OpenAPIContract(file: repositoryRoot.appendingPathComponent("openapi.yaml"))
        } catch {
            fatalError("openapi.yaml cannot be loaded: \(error)")
        }
    }()

    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public let document: JSONValue
    private let validator: SchemaValidator

    public init(file: URL) throws {
        let text = try String(contentsOf: file, encoding: .utf8)
        guard let loaded = try Yams.load(yaml: text), let document = JSONValue(any: loaded) else {
            throw TestSetupError("openapi.yaml is not a YAML mapping")
        }
        self.document = document
        self.validator = SchemaValidator(document: document)
    }

    public struct Operation: Hashable, Sendable, CustomStringConvertible {
        public let method: String
        public let path: String
        public var description: String { "\(method) \(path)" }

        public init(method: String, path: String) {
            self.method = method
            self.path = path
        }
    }

    private static let methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

    /// Every operation the document describes, methods upper-cased.
    public var operations: Set<Operation> {
        var operations: Set<Operation> = []
        for (path, item) in document["paths"]?.object ?? [:] {
            for method in Self.methods where item[method] != nil {
                operations.insert(Operation(method: method.uppercased(), path: path))
            }
        }
        return operations
    }

    /// Every way `response` departs from the document; empty when it conforms.
    public func violations(
        method: String,
        path requestPath: String,
        status: Int,
        headers: [String: String],
        body: Data
    ) -> [String] {
        let headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first })
        let context = "\(method) \(requestPath) → \(status)"
        guard let (template, item) = pathItem(for: requestPath) else {
            guard status == 404 else { return ["\(context): path is not in openapi.yaml, so only 404 is allowed"] }
            return check(
                response: .object(["$ref": .string("#/components/responses/NotFound")]), status: status, headers: headers, body: body,
                context: context)
        }
        guard let operation = item[method.lowercased()] else {
            guard status == 405 else { return ["\(context): \(template) has no \(method) in openapi.yaml, so only 405 is allowed"] }
            return check(
                response: .object(["$ref": .string("#/components/responses/MethodNotAllowed")]), status: status, headers: headers,
                body: body, context: context)
        }
        let responses = operation["responses"]?.object ?? [:]
        // A client branches on the 4xx an operation can give, so each is listed by its status;
        // `default` is left for what no client can cause (5xx).
        // (A body too large is refused before any route, whatever the operation: 413 is listed
        // only where a body is expected.)
        if (400..<500).contains(status), responses["\(status)"] == nil, status != 413 || operation["requestBody"] != nil {
            return ["\(context): \(method) \(template) does not list \(status) among its answers"]
        }
        let statusClass = "\(status / 100)XX"
        guard let response = responses["\(status)"] ?? responses[statusClass] ?? responses["default"] else {
            return ["\(context): status \(status) is not documented for \(method) \(template)"]
        }
        return check(response: response, status: status, headers: headers, body: body, context: context)
    }

    /// For endpoints that exist only in tests: an error must still be a documented problem response.
    public func problemViolations(status: Int, headers: [String: String], body: Data) -> [String] {
        let headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first })
        return check(
            response: .object(["$ref": .string("#/components/responses/Problem")]),
            status: status, headers: headers, body: body, context: "test-only endpoint → \(status)"
        )
    }

    private func pathItem(for requestPath: String) -> (String, JSONValue)? {
        let segments = requestPath.split(separator: "/", omittingEmptySubsequences: true)
        var best: (template: String, item: JSONValue, literals: Int)?
        for (template, item) in document["paths"]?.object ?? [:] {
            let pattern = template.split(separator: "/", omittingEmptySubsequences: true)
            guard pattern.count == segments.count else { continue }
            var literals = 0
            let matches = zip(pattern, segments).allSatisfy { part, segment in
                if part.hasPrefix("{") && part.hasSuffix("}") { return true }
                literals += 1
                return part == segment
            }
            if matches, literals >= (best?.literals ?? -1) { best = (template, item, literals) }
        }
        return best.map { ($0.template, $0.item) }
    }

    private func check(response responseNode: JSONValue, status: Int, headers: [String: String], body: Data, context: String) -> [String] {
        guard let response = validator.resolve(responseNode) else { return ["\(context): unresolvable response \(responseNode)"] }
        var problems: [String] = []
        for (name, headerNode) in response["headers"]?.object ?? [:] {
            guard let header = validator.resolve(headerNode) else { continue }
            guard let value = headers[name.lowercased()] else {
                if header["required"] == .bool(true) { problems.append("\(context): missing header \(name)") }
                continue
            }
            if let schema = header["schema"] {
                problems += validator.validate(.string(value), against: schema, at: "header \(name)").map { "\(context): \($0)" }
            }
        }
        guard let content = response["content"]?.object, !content.isEmpty else {
            if !body.isEmpty { problems.append("\(context): a body was sent where none is documented") }
            return problems
        }
        let mediaType =
            headers["content-type"]?.split(separator: ";").first.map {
                $0.trimmingCharacters(in: .whitespaces).lowercased()
            } ?? ""
        guard let media = content[mediaType] else {
            return problems + ["\(context): content type '\(mediaType)' is not one of \(content.keys.sorted())"]
        }
        if mediaType == "application/x-ndjson" {
            // JSON Lines: the body is text (so generated clients hand it over as a string), and
            // `x-item-schema` describes each line (OpenAPI 3.2's `itemSchema`, in a 3.1 document).
            guard let schema = media["x-item-schema"] else { return problems + ["\(context): JSON Lines without x-item-schema"] }
            let lines = body.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            if lines.last?.isEmpty != true { problems.append("\(context): JSON Lines must end with a newline") }
            for (number, line) in lines.dropLast().enumerated() {
                guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(line)) else {
                    problems.append("\(context): line \(number + 1) is not JSON")
                    continue
                }
                problems += validator.validate(value, against: schema, at: "line \(number + 1)").map { "\(context): \($0)" }
            }
            return problems
        }
        guard let schema = media["schema"] else { return problems }
        if !mediaType.hasSuffix("json") {
            // Text that is not JSON (CSV): its schema describes the body as a string.
            return problems
                + validator.validate(.string(String(decoding: body, as: UTF8.self)), against: schema, at: "body").map {
                    "\(context): \($0)"
                }
        }
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: body)
        } catch {
            return problems + ["\(context): body is not JSON: \(String(decoding: body.prefix(200), as: UTF8.self))"]
        }
        return problems + validator.validate(value, against: schema, at: "body").map { "\(context): \($0)" }
    }

    /// Every example in the document that its own schema refuses (checked closed, as answers are):
    /// answer examples of operations, line by line for JSON Lines, and schemas' own `examples`.
    public func exampleViolations() -> [String] {
        var problems: [String] = []
        for (path, item) in document["paths"]?.object ?? [:] {
            for (method, operation) in item.object ?? [:] where Self.methods.contains(method) {
                for (status, response) in operation["responses"]?.object ?? [:] {
                    for (mediaType, media) in validator.resolve(response)?["content"]?.object ?? [:] {
                        guard let example = media["example"] else { continue }
                        let context = "\(method.uppercased()) \(path) \(status) example"
                        if mediaType == "application/x-ndjson", let schema = media["x-item-schema"], let text = example.string {
                            for (number, line) in text.split(separator: "\n").enumerated() {
                                guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(line.utf8)) else {
                                    problems.append("\(context): line \(number + 1) is not JSON")
                                    continue
                                }
                                problems += validator.validate(value, against: schema, at: "line \(number + 1)").map { "\(context): \($0)" }
                            }
                        } else if let schema = media["schema"] {
                            problems += validator.validate(example, against: schema, at: "example").map { "\(context): \($0)" }
                        }
                    }
                }
            }
        }
        for (name, schema) in document["components"]?["schemas"]?.object ?? [:] {
            for (number, example) in (schema["examples"]?.array ?? []).enumerated() {
                problems += validator.validate(example, against: schema, at: "examples[\(number)]").map { "schema \(name): \($0)" }
            }
        }
        return problems
    }

    /// Problems with the document itself that a generic OpenAPI validator does not catch.
    public func selfCheck() -> [String] {
        var problems: [String] = []
        var operationIDs: Set<String> = []
        for (path, item) in document["paths"]?.object ?? [:] {
            for method in Self.methods {
                guard let operation = item[method] else { continue }
                guard let id = operation["operationId"]?.string else {
                    problems.append("\(method.uppercased()) \(path) has no operationId")
                    continue
                }
                if !operationIDs.insert(id).inserted { problems.append("operationId \(id) is used twice") }
                for (status, response) in operation["responses"]?.object ?? [:] {
                    guard let resolved = validator.resolve(response) else {
                        problems.append("\(id) \(status): unresolvable response")
                        continue
                    }
                    if resolved["headers"]?["X-Request-Id"] == nil {
                        problems.append("\(id) \(status): does not document X-Request-Id")
                    }
                    for (_, media) in resolved["content"]?.object ?? [:] {
                        if let schema = media["schema"], validator.resolve(schema) == nil {
                            problems.append("\(id) \(status): unresolvable schema")
                        }
                    }
                }
            }
        }
        return problems
    }
}
