import CustodianCore
import Foundation
import Hummingbird
import JSONText

/// `/v1/{leads|customers|contacts}/{id}/notes`
struct NoteRoutes {
    let notes: Notes
    let auth: StaffAuthenticator

    func register(on routes: inout RouteTable) {
        for (path, kind) in [("/v1/leads", Notes.Kind.lead), ("/v1/customers", .customer), ("/v1/contacts", .contact)] {
            routes.on(.get, path + "/{id}/notes", use: auth.requiring(.readonly, list(kind)))
            routes.on(.post, path + "/{id}/notes", use: auth.creating(.staff, add(kind)))
        }
    }

    static func json(_ note: Notes.Note) -> JSONValue {
        .object([
            "id": .uuid(note.id),
            "text": .string(note.body),
            "author_id": .uuid(note.authorID),
            "created_at": .timestamp(note.createdAt),
        ])
    }

    /// The record's notes, oldest first.
    func list(_ kind: Notes.Kind) -> StaffAuthenticator.AuthenticatedHandler {
        { request, context, _ in
            var query = ListQuery(request)
            let limit = query.limit()
            let cursor = try query.cursor()
            try query.finish()
            let page = try await notes.list(of: try context.parameters.uuid("id"), kind: kind, after: cursor, limit: limit)
            return JSONBody.response(page.json(Self.json))
        }
    }

    /// Adds a note written by the caller.
    func add(_ kind: Notes.Kind) -> StaffAuthenticator.AuthenticatedHandler {
        { request, context, actor in
            let owner = try context.parameters.uuid("id")
            var fields = try await RequestFields.read(request)
            let text = fields.string("text", required: true, maxLength: 10000)
            try fields.finish()
            guard let text = text.value else { throw DomainError.invalid([]) }
            let note = try await notes.add(text, to: owner, kind: kind, by: actor.member.id)
            return JSONBody.response(Self.json(note), status: .created).located(at: request.uri.path)
        }
    }
}
