import CustodianCore
import Foundation
import Hummingbird
import JSONText

/// `/v1/settings/consent`
struct ConsentSettingsRoutes {
    let settings: ConsentSettings
    let auth: StaffAuthenticator

    func register(on routes: inout RouteTable) {
        routes.on(.get, "/v1/settings/consent", use: auth.requiring(.readonly, read))
        routes.on(.patch, "/v1/settings/consent", use: auth.requiring(.admin, update))
    }

    private static func response(_ values: ConsentSettings.Values) throws -> Response {
        var response = JSONBody.response(
            JSONValue.object([
                "controller_name": .string(values.controllerName),
                "contacts_enabled": .bool(values.contactsEnabled),
                "leads_enabled": .bool(values.leadsEnabled),
                "page_text": .string(values.pageText),
                "link_lifetime_days": values.linkLifetimeDays.map { .integer($0) } ?? .null,
                "updated_at": .timestamp(values.updatedAt),
            ]))
        response.headers[.eTag] = ETag.value(values.revision)
        return response
    }

    @Sendable func read(_: Request, _: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        try Self.response(try await settings.current())
    }

    @Sendable func update(_ request: Request, _: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        let expected = try ETag.expectedRevision(request)
        var fields = try await RequestFields.read(request)
        var changes = ConsentSettings.Changes()
        changes.controllerName = fields.change("controller_name", maxLength: 200)
        changes.contactsEnabled = fields.change("contacts_enabled")
        changes.leadsEnabled = fields.change("leads_enabled")
        changes.pageText = fields.text("page_text", maxLength: 10000)
        changes.linkLifetimeDays = fields.lifetimeDays("link_lifetime_days")
        try fields.finish()
        return try Self.response(try await settings.update(changes, expectedRevision: expected, by: actor.member.id))
    }
}

extension RequestFields {
    /// A string that may be empty (page texts); nil when absent.
    mutating func text(_ field: String, maxLength: Int) -> String? {
        guard let value = rawMember(field) else { return nil }
        guard let text = value.string, text.unicodeScalars.count <= maxLength else {
            fail(field, "must be a string of at most \(maxLength) characters")
            return nil
        }
        return text
    }

    /// Whole days from 1 to 3650, or null for links that never expire; `.none` when absent.
    mutating func lifetimeDays(_ field: String) -> Int?? {
        guard let value = rawMember(field) else { return .none }
        switch value {
        case .null: return .some(nil)
        case .integer(let days) where (1...3650).contains(days): return .some(days)
        default:
            fail(field, "must be a whole number of days from 1 to 3650, or null for links that never expire")
            return .none
        }
    }
}
