import AsyncAlgorithms
import CustodianCore
import Foundation
import HTTPTypes
import Hummingbird
import JSONText
import NIOCore

/// A person's export for staff (`/v1/{leads|contacts}/{id}/export`) and the list of exports made
/// of them (`/exports`); `/v1/settings/exports`.
struct ExportRoutes {
    let exports: PersonExports
    let settings: ExportSettings
    let auth: StaffAuthenticator
    let stallTimeout: Duration

    func register(on routes: inout RouteTable) {
        for (path, kind) in Person.Kind.collections {
            routes.on(.get, path + "/{id}/export", use: auth.requiring(.staff, export(kind)))
            routes.on(.get, path + "/{id}/exports", use: auth.requiring(.readonly, list(kind)))
        }
        routes.on(.get, "/v1/requests/{id}/export", use: auth.requiring(.staff, attachment))
        routes.on(.get, "/v1/settings/exports", use: auth.requiring(.readonly, readSettings))
        routes.on(.patch, "/v1/settings/exports", use: auth.requiring(.admin, updateSettings))
    }

    func export(_ kind: Person.Kind) -> StaffAuthenticator.AuthenticatedHandler {
        { _, context, actor in
            let prepared = try await exports.prepare(try PersonConsentRoutes.subject(kind, context), for: .staff)
            return Self.streamed(prepared, exports: exports, by: actor.member.id, stallTimeout: stallTimeout)
        }
    }

    /// The export kept with a completed access or portability case.
    @Sendable func attachment(_: Request, context: AppRequestContext, actor _: AuthenticatedStaff) async throws -> Response {
        let attachment = try await exports.attachment(of: try context.parameters.uuid("id"))
        try await AuditTrail.record(.export, object: "requests/export", subjects: [attachment.subject.id])
        return Response(
            status: .ok, headers: Self.headers(for: attachment.subject), body: .init(byteBuffer: ByteBuffer(bytes: attachment.body)))
    }

    static func headers(for subject: Person) -> HTTPFields {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-store"
        let kind = subject.kind.rawValue
        let date = String(RFC3339Day.today())
        headers[.contentDisposition] =
            "attachment; filename=\"custodian-export-\(kind)-\(subject.id.lowercasedString)-\(date).json\""
        return headers
    }

    /// The document as it is read; the export is recorded once its last byte went out.
    ///
    /// The document is read from the database in a task of its own and handed over a chunk at a
    /// time: when the client stops reading and a chunk waits longer than `stallTimeout`, the read
    /// ends, its transaction rolls back and its connection goes back to the pool, whatever the
    /// client does then.
    static func streamed(_ prepared: PersonExports.Prepared, exports: PersonExports, by actor: UUID?, stallTimeout: Duration)
        -> Response
    {
        Response(
            status: .ok, headers: headers(for: prepared.subject),
            body: ResponseBody { writer in
                let chunks = AsyncThrowingChannel<ArraySlice<UInt8>, any Error>()
                let reader = Task {
                    do {
                        let size = try await exports.stream(prepared) { bytes in
                            try await withDeadline(stallTimeout) { await chunks.send(bytes) }
                        }
                        chunks.finish()
                        return size
                    } catch {
                        chunks.fail(error)
                        throw error
                    }
                }
                do {
                    for try await chunk in chunks { try await writer.write(ByteBuffer(bytes: chunk)) }
                } catch {
                    reader.cancel()
                    throw error
                }
                let size = try await reader.value
                try await writer.finish(nil)
                try await exports.record(prepared, byteSize: size, by: actor)
            })
    }

    func list(_ kind: Person.Kind) -> StaffAuthenticator.AuthenticatedHandler {
        PersonPage.handler(kind, read: exports.records(of:after:limit:)) { record in
            .object([
                "id": .uuid(record.id),
                "audience": .string(record.audience.rawValue),
                "exported_by": .uuid(record.exportedBy),
                "request_id": .uuid(record.requestID),
                "sections": .array(record.sections.map(JSONValue.string)),
                "left_out": .array(record.leftOut.map(JSONValue.string)),
                "byte_size": .integer(record.byteSize),
                "created_at": .timestamp(record.createdAt),
            ])
        }
    }

    private func settingsResponse(_ values: ExportSettings.Values) async throws -> Response {
        var response = JSONBody.response(
            JSONValue.object([
                "staff_left_out": .array(values.staffLeftOut.map(JSONValue.string)),
                "person_left_out": .array(values.personLeftOut.map(JSONValue.string)),
                "attachment_days": .integer(values.attachmentDays),
                "sections": .array(try await exports.sectionNames().map(JSONValue.string)),
                "updated_at": .timestamp(values.updatedAt),
            ]))
        response.headers[.eTag] = ETag.value(values.revision)
        return response
    }

    @Sendable func readSettings(_: Request, _: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        try await settingsResponse(try await settings.current())
    }

    @Sendable func updateSettings(_ request: Request, _: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        let expected = try ETag.expectedRevision(request)
        var fields = try await RequestFields.read(request)
        let staffLeftOut = fields.names("staff_left_out")
        let personLeftOut = fields.names("person_left_out")
        let days = fields.integer("attachment_days", range: 1...3650)
        try fields.finish()
        return try await settingsResponse(
            try await settings.update(
                staffLeftOut: staffLeftOut, personLeftOut: personLeftOut, attachmentDays: days, expectedRevision: expected,
                sections: try await exports.sectionNames(), by: actor.member.id))
    }
}

extension RequestFields {
    /// A list of distinct names (at most 100 of 1 to 100 characters); nil when absent.
    mutating func names(_ field: String) -> [String]? {
        guard let value = rawMember(field) else { return nil }
        guard let items = value.array, items.count <= 100 else {
            fail(field, "must be a list of section names")
            return nil
        }
        let names = items.compactMap(\.string)
        guard names.count == items.count, Set(names).count == names.count, names.allSatisfy({ (1...100).contains($0.count) }) else {
            fail(field, "must be a list of distinct section names")
            return nil
        }
        return names
    }
}

extension HTTPField.Name {
    static let contentDisposition = Self("Content-Disposition")!
}

enum RFC3339Day {
    /// Today's date in UTC, as YYYY-MM-DD.
    static func today() -> Substring {
        JSONValue.timestamp(Date()).string?.prefix(10) ?? ""
    }
}
