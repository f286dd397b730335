import CustodianCore
import Foundation
import JSONText

extension RequestFields {
    /// Reads the columns of `specs` from the body. On create, required columns must be present;
    /// on update every column is optional and only those sent are returned.
    mutating func columnValues(_ specs: [ColumnSpec], creating: Bool) -> ColumnValues {
        var values: ColumnValues = []
        for spec in specs {
            let required = creating && spec.requiredOnCreate
            let value: Presence<ColumnValue>
            switch spec.kind {
            case .text(let maxLength):
                value = map(string(spec.name, required: required, maxLength: maxLength)) { .text($0) }
            case .multilineText(let maxLength):
                value = map(string(spec.name, required: required, maxLength: maxLength)) { .text($0) }
            case .email:
                value = map(email(spec.name, required: required)) { .text($0) }
            case .countryCode:
                switch string(spec.name, required: required, maxLength: 2) {
                case .absent: value = .absent
                case .null: value = .null
                case .value(let code):
                    let upper = code.uppercased()
                    if upper.count == 2, upper.allSatisfy({ $0.isASCII && $0.isLetter }) {
                        value = .value(.text(upper))
                    } else {
                        fail(spec.name, "must be an ISO 3166-1 alpha-2 country code such as DE")
                        value = .absent
                    }
                }
            case .boolean:
                value = map(bool(spec.name, required: required)) { .bool($0) }
            case .reference:
                value = map(uuid(spec.name, required: required)) { .uuid($0) }
            case .timestamp:
                value = map(timestamp(spec.name, required: required)) { .date($0) }
            }
            switch value {
            case .absent:
                break
            case .null:
                if spec.nullable {
                    values.append((spec.name, .null))
                } else if !required {
                    fail(spec.name, "must not be null")
                }
            case .value(let columnValue):
                values.append((spec.name, columnValue))
            }
        }
        return values
    }

    private func map<Value>(_ presence: Presence<Value>, _ transform: (Value) -> ColumnValue?) -> Presence<ColumnValue> {
        switch presence {
        case .absent: return .absent
        case .null: return .null
        case .value(let value): return transform(value).map(Presence.value) ?? .absent
        }
    }

    /// `custom_fields`: an object whose keys are active custom fields of the record type, each
    /// value checked against its definition. Nil when absent on an update.
    mutating func customFields(
        definitions: [String: CustomFieldDefinitions.Definition],
        creating: Bool
    ) -> JSONValue? {
        let members: [String: JSONValue]
        switch rawMember("custom_fields") {
        case nil:
            guard creating else { return nil }
            members = [:]
        case .object(let given)?:
            members = given
        case let other?:
            fail("custom_fields", "must be an object, not \(other.jsonTypeName)")
            return nil
        }
        let (values, problems) = CustomFieldValues.check(members, against: definitions, creating: creating)
        for problem in problems { fail(problem.field, problem.message) }
        return .object(values)
    }
}
