import Hummingbird

/// The language of a page: `?lang=` when given, else the first of German and English the
/// browser's `Accept-Language` prefers, else English.
enum PageLanguage: String, CaseIterable, Sendable {
    case de, en

    init(_ request: Request) {
        if let asked = QueryParameters(request)["lang"].flatMap({ PageLanguage(rawValue: $0) }) {
            self = asked
            return
        }
        self = Self.preferred(request.headers[.acceptLanguage] ?? "") ?? .en
    }

    /// `de-DE,de;q=0.9,en;q=0.8` → de: the highest-weighted range that is German or English.
    static func preferred(_ header: String) -> PageLanguage? {
        var best: (PageLanguage, Double)?
        for range in header.split(separator: ",") {
            let parts = range.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let tag = parts.first?.lowercased() else { continue }
            let primary = String(tag.split(separator: "-").first ?? "")
            guard let language = PageLanguage(rawValue: primary) else { continue }
            let weight = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            if weight > 0, weight > (best?.1 ?? -1) { best = (language, weight) }
        }
        return best?.0
    }
}
