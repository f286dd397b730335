import CustodianCore
import Foundation
import Hummingbird
import JSONText

/// `/v1/requests`: data-subject request cases, handled by staff.
struct RequestRoutes {
    let cases: RequestCases
    let auth: StaffAuthenticator

    func register(on routes: inout RouteTable) {
        routes.on(.get, "/v1/requests", use: auth.requiring(.readonly, list))
        routes.on(.post, "/v1/requests", use: auth.creating(.staff, open))
        routes.on(.get, "/v1/requests/{id}", use: auth.requiring(.readonly, read))
        routes.on(.patch, "/v1/requests/{id}", use: auth.requiring(.staff, update))
    }

    private func response(_ requestCase: RequestCases.Case, status: HTTPResponse.Status = .ok) async throws -> Response {
        var body = RequestJSON.staff(requestCase)
        body["history"] = .array(try await cases.history(of: requestCase.id).map(RequestJSON.event))
        var response = JSONBody.response(JSONValue.object(body), status: status)
        response.headers[.eTag] = ETag.value(requestCase.revision)
        return response
    }

    /// Cases, oldest first; filter by status, kind, subject, assignee, `overdue` and `due_before`.
    @Sendable func list(_ request: Request, _: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        var query = ListQuery(request)
        let limit = query.limit()
        var filter = RequestCases.Filter()
        filter.status = query.choice("status", RequestCases.Status.self)
        filter.kind = query.choice("kind", RequestCases.Kind.self)
        filter.subjectType = query.choice("subject_type", DataSubject.Kind.self)
        filter.subjectIDs = query.uuid("subject_id").map { [$0] }
        filter.assigneeID = query.uuid("assignee_id")
        filter.overdue = query.bool("overdue")
        filter.dueBefore = query.timestamp("due_before")
        let cursor = try query.cursor()
        try query.finish()
        let page = try await cases.list(filter, after: cursor, limit: limit)
        // A case names its person and holds their words: listing cases is a read of those people.
        try await AuditTrail.record(.list, object: "request_cases", subjects: Array(Set(page.items.map(\.subject.id))))
        return JSONBody.response(page.json { .object(RequestJSON.staff($0)) })
    }

    /// Opens a case on a person's behalf (a letter, a call, an email, in person).
    @Sendable func open(_ request: Request, _: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        var fields = try await RequestFields.read(request)
        let kind = fields.choice("kind", RequestCases.Kind.self, required: true)
        let subjectType = fields.choice("subject_type", DataSubject.Kind.self, required: true)
        let subjectID = fields.uuid("subject_id", required: true)
        let channel = fields.choice("channel", RequestCases.Channel.self, required: false).value ?? .staff
        if channel == .link || channel == .customerArea {
            fields.fail("channel", "\(channel.rawValue) is for requests the person files themselves")
        }
        let details = fields.string("details", required: false, maxLength: 10000).value
        let receivedAt = fields.changeTimestamp("received_at")
        if let receivedAt, receivedAt > Date() { fields.fail("received_at", "must not be in the future") }
        let assignee = fields.uuid("assignee_id", required: false).value
        let verification = fields.choice("verification_method", RequestCases.VerificationMethod.self, nullable: true) ?? nil
        try fields.finish()
        guard let kind = kind.value, let subjectType = subjectType.value, let subjectID = subjectID.value else {
            throw DomainError.invalid([])
        }
        let opened = try await cases.open(
            .init(
                kind: kind, subject: DataSubject(subjectType, id: subjectID), channel: channel, details: details, receivedAt: receivedAt,
                assigneeID: assignee, verificationMethod: verification
            ),
            by: actor.member.id
        )
        var response = try await response(opened, status: .created)
        response.headers[.location] = "/v1/requests/\(opened.id.lowercasedString)"
        return response
    }

    @Sendable func read(_: Request, context: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        let requestCase = try await cases.find(id: try context.parameters.uuid("id"))
        try await AuditTrail.record(.read, object: "request_cases", subjects: [requestCase.subject.id])
        return try await response(requestCase)
    }

    /// Moves the case on: status (forward only), assignee, verification, resolution, refusal,
    /// one extension; every change goes into the case's history.
    @Sendable func update(_ request: Request, context: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        let id = try context.parameters.uuid("id")
        let expected = try ETag.expectedRevision(request)
        var fields = try await RequestFields.read(request)
        var changes = RequestCases.Changes()
        changes.status = fields.choice("status", RequestCases.Status.self, required: false).value
        changes.assigneeID = fields.uuid("assignee_id", required: false).nullable
        changes.verificationMethod = fields.choice("verification_method", RequestCases.VerificationMethod.self, nullable: true)
        changes.resolution = fields.string("resolution", required: false, maxLength: 10000).nullable
        changes.refusalCode = fields.choice("refusal_code", RequestCases.RefusalCode.self, required: false).value
        changes.refusalReason = fields.change("refusal_reason", maxLength: 10000)
        changes.extendMonths = fields.integer("extend_months", range: 1...2)
        changes.extensionReason = fields.change("extension_reason", maxLength: 10000)
        changes.extensionNotifiedAt = fields.timestamp("extension_notified_at", required: false).nullable
        changes.restrictionGround = fields.choice("restriction_ground", Restrictions.Ground.self, required: false).value
        try fields.finish()
        return try await response(try await cases.update(id: id, changes, expectedRevision: expected, by: actor.member.id))
    }
}

extension RequestFields.Presence {
    /// For PATCH fields that may be cleared: nil when absent, `.some(nil)` for null.
    var nullable: Value?? {
        switch self {
        case .absent: nil
        case .null: .some(nil)
        case .value(let value): .some(value)
        }
    }
}

extension RequestFields {
    /// A choice that may be set to null (cleared); nil when absent.
    mutating func choice<Choice: RawRepresentable & CaseIterable>(_ field: String, _ type: Choice.Type, nullable: Bool) -> Choice??
    where Choice.RawValue == String {
        if rawMember(field) == .null { return .some(nil) }
        return choice(field, type, required: false).value.map { .some($0) }
    }

    /// A whole number in `range`; nil when absent.
    mutating func integer(_ field: String, range: ClosedRange<Int>) -> Int? {
        guard let value = rawMember(field) else { return nil }
        guard case .integer(let number) = value, range.contains(number) else {
            fail(field, "must be a whole number from \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return number
    }
}
