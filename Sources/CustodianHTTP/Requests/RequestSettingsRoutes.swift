import CustodianCore
import Foundation
import Hummingbird
import JSONText

/// `/v1/settings/requests`: which kinds of request people may file through their personal link.
struct RequestSettingsRoutes {
    let settings: RequestSettings
    let auth: StaffAuthenticator

    func register(on routes: inout RouteTable) {
        routes.on(.get, "/v1/settings/requests", use: auth.requiring(.readonly, read))
        routes.on(.patch, "/v1/settings/requests", use: auth.requiring(.admin, update))
    }

    private static func response(_ values: RequestSettings.Values) -> Response {
        var response = JSONBody.response(
            JSONValue.object([
                "lead_kinds": .array(values.leadKinds.map { .string($0.rawValue) }),
                "contact_kinds": .array(values.contactKinds.map { .string($0.rawValue) }),
                "updated_at": .timestamp(values.updatedAt),
            ]))
        response.headers[.eTag] = ETag.value(values.revision)
        return response
    }

    @Sendable func read(_: Request, _: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        Self.response(try await settings.current())
    }

    @Sendable func update(_ request: Request, _: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        let expected = try ETag.expectedRevision(request)
        var fields = try await RequestFields.read(request)
        let leadKinds = fields.choices("lead_kinds", RequestCases.Kind.self)
        let contactKinds = fields.choices("contact_kinds", RequestCases.Kind.self)
        try fields.finish()
        return Self.response(
            try await settings.update(leadKinds: leadKinds, contactKinds: contactKinds, expectedRevision: expected, by: actor.member.id)
        )
    }
}

extension RequestFields {
    /// A list of distinct choices (possibly empty); nil when absent.
    mutating func choices<Choice: RawRepresentable & CaseIterable>(_ field: String, _: Choice.Type) -> [Choice]?
    where Choice.RawValue == String {
        guard let value = rawMember(field) else { return nil }
        let options = Choice.allCases.map(\.rawValue).joined(separator: ", ")
        guard let items = value.array else {
            fail(field, "must be a list of \(options)")
            return nil
        }
        let choices = items.compactMap { $0.string.flatMap(Choice.init(rawValue:)) }
        guard choices.count == items.count, Set(choices.map(\.rawValue)).count == choices.count else {
            fail(field, "must be a list of distinct values from \(options)")
            return nil
        }
        return choices
    }
}
