import CustodianCore
import Foundation
import JSONText

/// The JSON of request cases, for staff and for the person.
enum RequestJSON {
    static func staff(_ requestCase: RequestCases.Case) -> [String: JSONValue] {
        [
            "id": .uuid(requestCase.id),
            "kind": .string(requestCase.kind.rawValue),
            "subject_type": .string(requestCase.subject.kind.rawValue),
            "subject_id": .uuid(requestCase.subject.id),
            "channel": .string(requestCase.channel.rawValue),
            "details": .string(requestCase.details),
            "status": .string(requestCase.status.rawValue),
            "refusal_code": .string(requestCase.refusalCode?.rawValue),
            "refusal_reason": .string(requestCase.refusalReason),
            "received_at": .timestamp(requestCase.receivedAt),
            "due_at": .timestamp(requestCase.dueAt),
            "overdue": .bool(requestCase.overdue),
            "extension_months": .integer(requestCase.extensionMonths),
            "extension_reason": .string(requestCase.extensionReason),
            "extension_notified_at": .timestamp(requestCase.extensionNotifiedAt),
            "verified_at": .timestamp(requestCase.verifiedAt),
            "verification_method": .string(requestCase.verificationMethod?.rawValue),
            "assignee_id": .uuid(requestCase.assigneeID),
            "resolution": .string(requestCase.resolution),
            "restriction_ground": .string(requestCase.restrictionGround?.rawValue),
            "closed_at": .timestamp(requestCase.closedAt),
            "created_at": .timestamp(requestCase.createdAt),
            "updated_at": .timestamp(requestCase.updatedAt),
        ]
    }

    /// What the person sees of their own case: what they asked, where it stands, the dates.
    static func person(_ requestCase: RequestCases.Case) -> JSONValue {
        .object([
            "id": .uuid(requestCase.id),
            "kind": .string(requestCase.kind.rawValue),
            "details": .string(requestCase.details),
            "status": .string(requestCase.status.rawValue),
            "received_at": .timestamp(requestCase.receivedAt),
            "due_at": .timestamp(requestCase.dueAt),
            "closed_at": .timestamp(requestCase.closedAt),
        ])
    }

    static func event(_ event: RequestCases.Event) -> JSONValue {
        .object([
            "recorded_at": .timestamp(event.recordedAt),
            "actor_type": .string(event.actorType),
            "actor_id": .uuid(event.actorID),
            "action": .string(event.action),
            "changes": event.changes,
        ])
    }
}
