import CustodianCore
import Foundation
import Hummingbird
import JSONText

/// `/v1/settings/controller`: the controller's address and contact, its data protection officer,
/// EU representative and supervisory authority; what the register and every privacy centre show.
struct ControllerRoutes {
    let details: ControllerDetails
    let auth: StaffAuthenticator

    func register(on routes: inout RouteTable) {
        routes.on(.get, "/v1/settings/controller", use: auth.requiring(.readonly, read))
        routes.on(.patch, "/v1/settings/controller", use: auth.requiring(.admin, update))
    }

    private func response(_ values: ControllerDetails.Values) -> Response {
        var members: [String: JSONValue] = ["name": .string(values.name), "updated_at": .timestamp(values.updatedAt)]
        for field in ControllerDetails.Values.fields { members[field.name] = .string(values[field]) }
        var response = JSONBody.response(JSONValue.object(members))
        response.headers[.eTag] = ETag.value(values.revision)
        return response
    }

    @Sendable func read(_: Request, _: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        response(try await details.current())
    }

    /// Members given are set; `null` clears one. The emails must be addresses, the authority's
    /// URL an http(s) one.
    @Sendable func update(_ request: Request, _: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        let expected = try ETag.expectedRevision(request)
        var fields = try await RequestFields.read(request)
        if fields.rawMember("name") != nil {
            fields.fail("name", "is the consent settings' controller_name: change it with PATCH /v1/settings/consent")
        }
        var changes: [String: String?] = [:]
        for field in ControllerDetails.Values.fields {
            let presence =
                field.name.hasSuffix("email")
                ? fields.email(field.name, required: false) : fields.string(field.name, required: false, maxLength: field.maxLength)
            switch presence {
            case .absent: break
            case .null: changes[field.name] = .some(nil)
            case .value(let text):
                let address = text.hasPrefix("https://") ? text.dropFirst(8) : text.hasPrefix("http://") ? text.dropFirst(7) : nil
                if field.name.hasSuffix("_url"), address?.isEmpty != false || text.unicodeScalars.contains(where: \.properties.isWhitespace)
                {
                    fields.fail(field.name, "must be an http or https URL")
                }
                changes[field.name] = .some(text)
            }
        }
        try fields.finish()
        return response(try await details.update(changes, expectedRevision: expected, by: actor.member.id))
    }
}
