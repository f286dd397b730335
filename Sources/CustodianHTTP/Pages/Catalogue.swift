/// Every text the pages show, one catalogue per language (`Catalogue+en`, `Catalogue+de`),
/// under the same keys; a test keeps the two complete. The controller's own texts (name, page
/// text, retention, thank-you, policies, purposes) come from settings, not from here.
enum Catalogue {
    static func text(_ key: String, _ language: PageLanguage) -> String {
        (language == .de ? german : english)[key] ?? english[key] ?? key
    }

    /// A record field's label (`first_name` → First name).
    static func field(_ name: String, _ language: PageLanguage) -> String {
        text("field." + name, language)
    }
}
