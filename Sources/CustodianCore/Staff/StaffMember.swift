import Foundation

public struct StaffMember: Sendable, Equatable {
    public var id: UUID
    public var name: String
    public var email: String?
    public var role: StaffRole
    public var active: Bool
    public var revision: Int64
    public var createdAt: Date
    public var updatedAt: Date
}

public struct APIKeyRecord: Sendable, Equatable {
    public var id: UUID
    public var staffID: UUID
    public var name: String
    public var prefix: String
    public var createdAt: Date
    public var lastUsedAt: Date?
    public var revokedAt: Date?
}

/// The staff member behind a request, as their API key proved.
public struct AuthenticatedStaff: Sendable {
    public var member: StaffMember
    public var keyID: UUID
}
