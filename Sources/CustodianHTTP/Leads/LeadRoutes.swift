import CustodianCore
import Foundation
import Hummingbird
import JSONText

extension RecordRoutes {
    static func leads(
        _ leads: Leads, auth: StaffAuthenticator, definitions: CustomFieldDefinitions, suppressions: Suppressions
    ) -> RecordRoutes {
        RecordRoutes(
            path: "/v1/leads",
            table: Leads.table,
            filterColumns: ["status", "source", "assignee_id"],
            operations: .init(leads.store).screening(Leads.table, with: suppressions),
            auth: auth,
            customFieldEntity: .lead,
            definitions: definitions
        )
    }
}

/// `POST /v1/leads/{id}/convert`
struct LeadConversionRoute {
    let leads: Leads
    let auth: StaffAuthenticator

    func register(on routes: inout RouteTable) {
        routes.on(.post, "/v1/leads/{id}/convert", use: auth.creating(.staff, convert))
    }

    /// Makes the lead a customer with the lead as its primary contact, all or nothing.
    @Sendable func convert(_ request: Request, context: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        let id = try context.parameters.uuid("id")
        let conversion = try await leads.convert(id: id, expectedRevision: try ETag.expectedRevision(request), by: actor.member.id)
        // The three records as their single reads write them, under keys in sorted order.
        let body =
            Array(#"{"contact":"#.utf8) + conversion.contact.body + Array(#","customer":"#.utf8) + conversion.customer.body
            + Array(#","lead":"#.utf8) + conversion.lead.body + [UInt8(ascii: "}")]
        var response = JSONBody.response(body, status: .created)
        response.headers[.location] = "/v1/customers/\(conversion.customer.id.lowercasedString)"
        return response
    }
}
