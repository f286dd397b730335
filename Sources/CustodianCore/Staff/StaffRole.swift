/// What a staff member may do: `integration` reads the feeds and nothing else, `readonly` reads,
/// `staff` also works records, `admin` also manages staff, keys and settings.
public enum StaffRole: String, Sendable, Codable, CaseIterable, Comparable {
    case integration
    case readonly
    case staff
    case admin

    private var rank: Int {
        switch self {
        case .integration: 0
        case .readonly: 1
        case .staff: 2
        case .admin: 3
        }
    }

    public static func < (lhs: StaffRole, rhs: StaffRole) -> Bool { lhs.rank < rhs.rank }

    /// Whether this role covers everything `required` may do.
    public func allows(_ required: StaffRole) -> Bool { self >= required }
}
