import CustodianCore
import Foundation
import JSONText

extension JSONValue {
    /// From what Yams hands back.
    init?(any value: Any) {
        switch value {
        case is NSNull: self = .null
        case let bool as Bool: self = .bool(bool)
        case let int as Int: self = .integer(int)
        case let double as Double: self = .number(double)
        case let string as String: self = .string(string)
        case let array as [Any]:
            var items: [JSONValue] = []
            for element in array {
                guard let item = JSONValue(any: element) else { return nil }
                items.append(item)
            }
            self = .array(items)
        case let dictionary as [AnyHashable: Any]:
            var members: [String: JSONValue] = [:]
            for (key, element) in dictionary {
                guard let member = JSONValue(any: element) else { return nil }
                members["\(key.base)"] = member
            }
            self = .object(members)
        default:
            return nil
        }
    }
}
