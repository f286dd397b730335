import CustodianCore
import Foundation
import Hummingbird
import JSONText

/// Staff's side of the privacy centre: the corrections recorded per person
/// (`/v1/{leads|contacts}/{id}/corrections`) and `/v1/settings/privacy`.
struct PrivacyRoutes {
    let centre: PrivacyCentre
    let auth: StaffAuthenticator

    func register(on routes: inout RouteTable) {
        for (path, kind) in Person.Kind.collections {
            routes.on(.get, path + "/{id}/corrections", use: auth.requiring(.readonly, corrections(kind)))
        }
        routes.on(.get, "/v1/settings/privacy", use: auth.requiring(.readonly, readSettings))
        routes.on(.patch, "/v1/settings/privacy", use: auth.requiring(.admin, updateSettings))
    }

    static func json(_ correction: PrivacyCentre.Correction) -> JSONValue {
        .object([
            "id": .uuid(correction.id),
            "subject_type": .string(correction.subject.kind.rawValue),
            "subject_id": .uuid(correction.subject.id),
            "field": .string(correction.field),
            "old_value": .string(correction.oldValue),
            "new_value": .string(correction.newValue),
            "corrected_at": .timestamp(correction.correctedAt),
            "corrected_by": .string(correction.correctedBy),
            "staff_id": .uuid(correction.staffID),
        ])
    }

    func corrections(_ kind: Person.Kind) -> StaffAuthenticator.AuthenticatedHandler {
        PersonPage.handler(kind, read: centre.corrections(of:after:limit:), json: Self.json)
    }

    private func settingsResponse(_ settings: PrivacyCentre.Settings) -> Response {
        var response = JSONBody.response(
            JSONValue.object([
                "lead_correctable": .array(settings.leadCorrectable.map(JSONValue.string)),
                "contact_correctable": .array(settings.contactCorrectable.map(JSONValue.string)),
                "retention": .string(settings.retention),
                "updated_at": .timestamp(settings.updatedAt),
            ]))
        response.headers[.eTag] = ETag.value(settings.revision)
        return response
    }

    @Sendable func readSettings(_: Request, _: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        settingsResponse(try await centre.settings())
    }

    @Sendable func updateSettings(_ request: Request, _: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        let expected = try ETag.expectedRevision(request)
        var fields = try await RequestFields.read(request)
        let lead = fields.names("lead_correctable")
        let contact = fields.names("contact_correctable")
        let retention = fields.change("retention", maxLength: 2000)
        try fields.finish()
        return settingsResponse(
            try await centre.updateSettings(
                leadCorrectable: lead, contactCorrectable: contact, retention: retention, expectedRevision: expected, by: actor.member.id))
    }
}
