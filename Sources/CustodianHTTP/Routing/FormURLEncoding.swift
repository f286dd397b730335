import Foundation
import Hummingbird

/// `application/x-www-form-urlencoded`, the encoding of form bodies and of query strings as
/// browsers and HTTP libraries write them: `+` is a space, `%XX` a byte of UTF-8. (Python's httpx
/// and requests send `q=Anna+M%C3%BCller`; a server that reads `+` literally finds nobody.)
enum FormURLEncoding {
    /// Every name with its value, in order; nil when a part is not valid URL encoding.
    static func pairs(_ text: Substring) -> [(name: String, value: String)]? {
        var pairs: [(name: String, value: String)] = []
        for part in text.split(separator: "&", omittingEmptySubsequences: true) {
            let halves = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decode(halves[0]), let value = decode(halves.count > 1 ? halves[1] : "") else { return nil }
            pairs.append((name, value))
        }
        return pairs
    }

    private static func decode(_ text: Substring) -> String? {
        text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }
}

/// A request's query string, decoded as a form is.
struct QueryParameters {
    /// Every name with its value, in order.
    let pairs: [(name: String, value: String)]
    /// False when the query string is not valid URL encoding (then `pairs` is empty).
    let isValid: Bool

    init(_ request: Request) {
        let query = request.uri.query ?? ""
        if let pairs = FormURLEncoding.pairs(query[...]) {
            self.pairs = pairs
            self.isValid = true
        } else {
            self.pairs = []
            self.isValid = false
        }
    }

    subscript(name: String) -> String? { pairs.first { $0.name == name }?.value }

    func all(_ name: String) -> [String] { pairs.filter { $0.name == name }.map(\.value) }
}
