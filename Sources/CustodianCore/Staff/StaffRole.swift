/// What a staff member may do: `readonly` reads, `staff` also works records, `admin` also
/// manages staff, keys and settings.
public enum StaffRole: String, Sendable, Codable, CaseIterable, Comparable {
    case readonly
    case staff
    case admin

    private var rank: Int {
        switch self {
        case .readonly: 0
        case .staff: 1
        case .admin: 2
        }
    }

    public static func < (lhs: StaffRole, rhs: StaffRole) -> Bool { lhs.rank < rhs.rank }

    /// Whether this role covers everything `required` may do.
    public func allows(_ required: StaffRole) -> Bool { self >= required }
}
