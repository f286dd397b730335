import Foundation

/// What people are told about how long their data is kept (GDPR Art. 13(2)(a), 14(2)(a)),
/// written from the retention policies in force, in German or English: one sentence a policy.
public enum RetentionStatement {
    public static func sentence(_ policy: RetentionPolicies.Policy, language: Policies.Language) -> String {
        let months = policy.inactiveMonths
        switch language {
        case .en:
            let period = months % 12 == 0 ? plural(months / 12, "year", "years") : plural(months, "month", "months")
            let who: String
            switch (policy.subjectType, policy.activityOf) {
            case (.lead, _):
                who =
                    policy.leadStatuses.map { "Enquiries (leads) with the status \(listed($0, and: "or"))" } ?? "Enquiries (leads)"
            case (.contact, .record): who = "Contacts"
            case (.contact, .customer): who = "Contacts of customers"
            }
            let whose = policy.activityOf == .customer ? "the customer has had no activity" : "there has been no activity"
            return "\(who) are erased once \(whose) for \(period)."
        case .de:
            let period = months % 12 == 0 ? plural(months / 12, "Jahr", "Jahren") : plural(months, "Monat", "Monaten")
            let who: String
            switch (policy.subjectType, policy.activityOf) {
            case (.lead, _):
                who = policy.leadStatuses.map { "Anfragen (Leads) mit dem Status \(listed($0, and: "oder"))" } ?? "Anfragen (Leads)"
            case (.contact, .record): who = "Kontaktdaten"
            case (.contact, .customer): who = "Kontaktdaten von Kunden"
            }
            let whose = policy.activityOf == .customer ? "der Kunde seit \(period) keine Aktivität hatte" : "seit \(period) keine Aktivität"
            return "\(who) werden gelöscht, wenn \(whose)\(policy.activityOf == .customer ? "" : " stattfand")."
        }
    }

    /// Every policy in force for this kind of person, one sentence each.
    public static func text(_ policies: [RetentionPolicies.Policy], for kind: Person.Kind, language: Policies.Language) -> String? {
        let sentences = policies.filter { $0.active && $0.subjectType == kind }.map { sentence($0, language: language) }
        return sentences.isEmpty ? nil : sentences.joined(separator: " ")
    }

    private static func plural(_ count: Int, _ one: String, _ many: String) -> String { "\(count) \(count == 1 ? one : many)" }

    private static func listed(_ items: [String], and word: String) -> String {
        let quoted = items.map { "\"\($0)\"" }
        guard quoted.count > 1 else { return quoted.joined() }
        return quoted.dropLast().joined(separator: ", ") + " \(word) " + quoted[quoted.count - 1]
    }
}
