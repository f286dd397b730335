import Foundation
import JSONText

/// Checks the `custom_fields` object of a write against the active definitions of its record type.
public enum CustomFieldValues {
    /// Returns the values to store (`null` kept in an update, where it removes the value) and
    /// every problem, each named `custom_fields.<key>`. On create every required field must be
    /// given; an update may not clear a required field.
    public static func check(
        _ values: [String: JSONValue],
        against definitions: [String: CustomFieldDefinitions.Definition],
        creating: Bool
    ) -> (values: [String: JSONValue], errors: [FieldError]) {
        var accepted: [String: JSONValue] = [:]
        var errors: [FieldError] = []
        func fail(_ key: String, _ message: String) {
            errors.append(FieldError(field: "custom_fields.\(key)", message: message))
        }
        for key in values.keys.sorted() {
            guard let value = values[key] else { continue }
            guard let definition = definitions[key] else {
                fail(key, "is not an active custom field of this record type")
                continue
            }
            if value == .null {
                if definition.required {
                    fail(key, "is required")
                } else if !creating {
                    accepted[key] = .null
                }
                continue
            }
            if let problem = problem(with: value, for: definition) {
                fail(key, problem)
            } else {
                accepted[key] = normalized(value, for: definition)
            }
        }
        if creating {
            for (key, definition) in definitions where definition.required && values[key] == nil {
                fail(key, "is required")
            }
        }
        return (accepted, errors.sorted { $0.field < $1.field })
    }

    private static func problem(with value: JSONValue, for definition: CustomFieldDefinitions.Definition) -> String? {
        switch (definition.type, value) {
        case (.text, .string(let text)):
            return text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
                ? "must not be empty"
                : text.unicodeScalars.count > 1000 ? "must be at most 1000 characters" : nil
        case (.textarea, .string(let text)):
            return text.unicodeScalars.count > 10000 ? "must be at most 10000 characters" : nil
        case (.number, .integer):
            return nil
        case (.number, .number(let number)):
            return number.isFinite ? nil : "must be a finite number"
        case (.date, .string(let text)):
            return isCalendarDate(text) ? nil : "must be a date such as 2026-11-29"
        case (.select, .string(let choice)):
            return definition.options.contains(choice) ? nil : "must be one of " + definition.options.joined(separator: ", ")
        case (.multiselect, .array(let items)):
            let choices = items.compactMap(\.string)
            guard choices.count == items.count, Set(choices).count == choices.count,
                choices.allSatisfy(definition.options.contains)
            else { return "must be a list of distinct options from " + definition.options.joined(separator: ", ") }
            return nil
        case (.checkbox, .bool):
            return nil
        default:
            return "must be a \(definition.type.rawValue) value, not \(value.jsonTypeName)"
        }
    }

    private static func normalized(_ value: JSONValue, for definition: CustomFieldDefinitions.Definition) -> JSONValue {
        if definition.type == .text, case .string(let text) = value {
            return .string(text.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return value
    }

    private static func isCalendarDate(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
            (1...9999).contains(year), (1...12).contains(month), day >= 1
        else { return false }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? .current
        guard let first = calendar.date(from: DateComponents(year: year, month: month, day: 1)),
            let days = calendar.range(of: .day, in: .month, for: first)
        else { return false }
        return days.contains(day)
    }
}
