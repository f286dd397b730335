import CustodianCore
import Hummingbird
import JSONText

/// A list about one person (`/v1/{leads|contacts}/{id}/...`), paged like every list.
enum PersonPage {
    static func handler<Item: Sendable>(
        _ kind: Person.Kind,
        read: @escaping @Sendable (Person, Cursor?, Int) async throws -> Page<Item>,
        json: @escaping @Sendable (Item) -> JSONValue
    ) -> StaffAuthenticator.AuthenticatedHandler {
        { request, context, _ in
            let subject = try PersonConsentRoutes.subject(kind, context)
            var query = ListQuery(request)
            let limit = query.limit()
            let cursor = try query.cursor()
            try query.finish()
            return JSONBody.response(try await read(subject, cursor, limit).json(json))
        }
    }
}
