import CustodianCore
import Foundation
import JSONText

/// Checks a JSON value against the JSON Schema subset `openapi.yaml` uses.
///
/// A keyword outside that subset is reported as a violation rather than ignored, so the spec can
/// never silently say more than the tests check. Vendor extensions (`x-…`) are annotations.
///
/// Checked closed: the contract leaves response objects open so that clients tolerate fields
/// added later, but the server must send only what the contract documents today. So an object
/// schema with `properties` and no `additionalProperties` admits no other member here (with
/// `allOf`, the members of every branch count).
struct SchemaValidator {
    let document: JSONValue

    private static let annotations: Set<String> = [
        "description", "title", "example", "examples", "default", "deprecated", "readOnly", "writeOnly", "$comment",
    ]
    private static let checked: Set<String> = [
        "$ref", "type", "enum", "const", "properties", "required", "additionalProperties", "items",
        "allOf", "anyOf", "oneOf", "minimum", "maximum", "minLength", "maxLength", "pattern", "format",
        "minItems", "maxItems", "discriminator",
    ]

    func resolve(_ node: JSONValue) -> JSONValue? {
        guard let reference = node["$ref"]?.string else { return node }
        guard reference.hasPrefix("#/") else { return nil }
        var current: JSONValue? = document
        for component in reference.dropFirst(2).split(separator: "/") {
            current = current?[String(component).replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")]
        }
        return current.flatMap(resolve)
    }

    func validate(_ value: JSONValue, against schemaNode: JSONValue, at path: String) -> [String] {
        validate(value, against: schemaNode, at: path, closed: true)
    }

    /// `closed: false` checks one branch of an `allOf`, whose neighbours document further members.
    private func validate(_ value: JSONValue, against schemaNode: JSONValue, at path: String, closed: Bool) -> [String] {
        guard let schema = resolve(schemaNode), let keywords = schema.object else {
            return ["\(path): unresolvable schema \(schemaNode)"]
        }
        var problems: [String] = []
        for keyword in keywords.keys
        where !Self.checked.contains(keyword) && !Self.annotations.contains(keyword) && !keyword.hasPrefix("x-") {
            problems.append("\(path): schema keyword '\(keyword)' is not checked by the contract test; extend SchemaValidator")
        }
        if let type = keywords["type"] {
            let allowed = type.array?.compactMap(\.string) ?? [type.string].compactMap { $0 }
            if !allowed.contains(where: { matches(value, type: $0) }) {
                problems.append("\(path): expected \(allowed.joined(separator: " or ")), got \(value.jsonTypeName)")
                return problems
            }
        }
        if let options = keywords["enum"]?.array, !options.contains(value) {
            problems.append("\(path): \(value) is not one of \(options)")
        }
        if let constant = keywords["const"], constant != value {
            problems.append("\(path): expected \(constant)")
        }
        let branches = keywords["allOf"]?.array ?? []
        for sub in branches {
            problems += validate(value, against: sub, at: path, closed: false)
        }
        if closed, !branches.isEmpty, case .object(let members) = value {
            var documented = Set<String>()
            for branch in [schema] + branches {
                documented.formUnion(resolve(branch)?["properties"]?.object.map { Array($0.keys) } ?? [])
            }
            for name in members.keys where !documented.contains(name) {
                problems.append("\(path): property '\(name)' is not in the schema")
            }
        }
        if let discriminator = keywords["discriminator"]?.object, let property = discriminator["propertyName"]?.string {
            // The discriminator picks the one branch to check; the oneOf below still asks for exactly one match.
            guard let tag = value[property]?.string, let target = discriminator["mapping"]?[tag]?.string else {
                return problems + ["\(path): '\(property)' names no branch of the discriminator"]
            }
            problems += validate(value, against: .object(["$ref": .string(target)]), at: path)
        }
        if let alternatives = keywords["anyOf"]?.array,
            !alternatives.contains(where: { validate(value, against: $0, at: path).isEmpty })
        {
            problems.append("\(path): matches none of anyOf")
        }
        if let alternatives = keywords["oneOf"]?.array,
            alternatives.filter({ validate(value, against: $0, at: path).isEmpty }).count != 1
        {
            problems.append("\(path): does not match exactly one of oneOf")
        }
        switch value {
        case .object(let members):
            problems += validateObject(members, keywords: keywords, at: path, closed: closed && branches.isEmpty)
        case .array(let items):
            if let itemSchema = keywords["items"] {
                for (index, item) in items.enumerated() {
                    problems += validate(item, against: itemSchema, at: "\(path)[\(index)]")
                }
            }
            if case .integer(let min) = keywords["minItems"], items.count < min { problems.append("\(path): fewer than \(min) items") }
            if case .integer(let max) = keywords["maxItems"], items.count > max { problems.append("\(path): more than \(max) items") }
        case .string(let string):
            problems += validateString(string, keywords: keywords, at: path)
        case .integer(let number):
            problems += validateNumber(Double(number), keywords: keywords, at: path)
        case .number(let number):
            problems += validateNumber(number, keywords: keywords, at: path)
        default:
            break
        }
        return problems
    }

    private func matches(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("integer", .integer), ("number", .integer),
            ("number", .number), ("string", .string), ("array", .array), ("object", .object):
            true
        default:
            false
        }
    }

    private func validateObject(_ members: [String: JSONValue], keywords: [String: JSONValue], at path: String, closed: Bool) -> [String] {
        var problems: [String] = []
        let properties = keywords["properties"]?.object ?? [:]
        for required in keywords["required"]?.array?.compactMap(\.string) ?? [] where members[required] == nil {
            problems.append("\(path): missing required property '\(required)'")
        }
        for (name, member) in members {
            if let propertySchema = properties[name] {
                problems += validate(member, against: propertySchema, at: "\(path).\(name)")
            } else if let additional = keywords["additionalProperties"] {
                if additional == .bool(false) {
                    problems.append("\(path): property '\(name)' is not in the schema")
                } else if additional.object != nil {
                    problems += validate(member, against: additional, at: "\(path).\(name)")
                }
            } else if closed, keywords["properties"] != nil {
                problems.append("\(path): property '\(name)' is not in the schema")
            }
        }
        return problems
    }

    private func validateString(_ string: String, keywords: [String: JSONValue], at path: String) -> [String] {
        var problems: [String] = []
        if case .integer(let min) = keywords["minLength"], string.count < min { problems.append("\(path): shorter than \(min)") }
        if case .integer(let max) = keywords["maxLength"], string.count > max { problems.append("\(path): longer than \(max)") }
        if let pattern = keywords["pattern"]?.string, string.range(of: pattern, options: .regularExpression) == nil {
            problems.append("\(path): '\(string)' does not match \(pattern)")
        }
        switch keywords["format"]?.string {
        case "uuid":
            if UUID(uuidString: string) == nil { problems.append("\(path): '\(string)' is not a UUID") }
        case "date-time":
            let rfc3339 = #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"#
            if string.range(of: rfc3339, options: .regularExpression) == nil {
                problems.append("\(path): '\(string)' is not an RFC 3339 timestamp")
            }
        case "uri":
            if string.range(of: #"^[A-Za-z][A-Za-z0-9+.-]*:\S+$"#, options: .regularExpression) == nil {
                problems.append("\(path): '\(string)' is not a URI")
            }
        default:
            break
        }
        return problems
    }

    private func validateNumber(_ number: Double, keywords: [String: JSONValue], at path: String) -> [String] {
        var problems: [String] = []
        func bound(_ key: String) -> Double? {
            switch keywords[key] {
            case .integer(let value): Double(value)
            case .number(let value): value
            default: nil
            }
        }
        if let min = bound("minimum"), number < min { problems.append("\(path): \(number) is below \(min)") }
        if let max = bound("maximum"), number > max { problems.append("\(path): \(number) is above \(max)") }
        return problems
    }
}
