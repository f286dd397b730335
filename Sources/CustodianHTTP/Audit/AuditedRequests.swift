import CustodianCore
import Foundation
import HTTPTypes
import Hummingbird
import Postgres

/// How requests enter the audit trail: the authenticated actor is set for the handler (its
/// reads and changes are recorded with it), and a successful GET of something of one person's
/// (`/v1/{leads|contacts|customers}/{id}/…`: their consents, notes, corrections, export…) is
/// recorded before the answer goes out. The record's own read and list pages record themselves
/// (`RecordTable`).
struct AuditedRequests: Sendable {
    /// Writes the reads of this side's actors (one writer per pool, so that reads group).
    let writer: AuditWriter
    /// `CUSTODIAN_AUDIT_READS`: off only to measure what recording reads costs.
    var recordsReads = true

    static func actor(_ kind: AuditActor.Kind, context: AppRequestContext) -> AuditActor {
        context.actor?.note(kind)
        return AuditActor(
            kind: kind, route: context.endpointPath, requestID: context.requestID.isEmpty ? nil : context.requestID,
            clientIP: context.clientIP?.description)
    }

    /// Runs `handler` as `actor`, and records a GET of one person's sub-resource it answered.
    func run(
        as actor: AuditActor, _ request: Request, _ context: AppRequestContext, _ handler: () async throws -> Response
    ) async throws -> Response {
        try await run(as: actor, request, handler) { Self.personRead(context).map { (.read, $0.0, $0.1) } }
    }

    /// Runs `handler` for a person acting on their own data (through their link or their
    /// account), and records what a GET showed them as a view of that route.
    func runForThePerson(
        _ person: Person, as actor: AuditActor, _ request: Request, _ context: AppRequestContext,
        _ handler: () async throws -> Response
    ) async throws -> Response {
        try await run(as: actor, request, handler) { (.view, context.endpointPath ?? "(no route)", person.id) }
    }

    /// Runs `handler` as `actor` with this side's writer; a GET it answered with a 2xx is recorded
    /// as `entry` says (nothing when it says nil) before the answer goes out.
    private func run(
        as actor: AuditActor, _ request: Request, _ handler: () async throws -> Response,
        entry: () -> (AuditTrail.Action, String, UUID)?
    ) async throws -> Response {
        var actor = actor
        actor.recordsReads = recordsReads
        actor.writer = writer
        return try await actor.acting {
            let response = try await handler()
            if request.method == .get, (200..<300).contains(response.status.code), let (action, object, subject) = entry() {
                try await AuditTrail.record(action, object: object, subjects: [subject])
            }
            return response
        }
    }

    /// For a route `/v1/{leads|contacts|customers}/{id}/<what>…`: `<what>` (after the collection:
    /// `leads/consents`) and the person's id.
    static func personRead(_ context: AppRequestContext) -> (String, UUID)? {
        // Most routes are not one: a prefix test first, before any splitting.
        guard let pattern = context.endpointPath,
            pattern.hasPrefix("/v1/leads/{id}/") || pattern.hasPrefix("/v1/contacts/{id}/") || pattern.hasPrefix("/v1/customers/{id}/")
        else { return nil }
        let parts = pattern.split(separator: "/")
        guard parts.count >= 4, parts[0] == "v1", ["leads", "contacts", "customers"].contains(parts[1]), parts[2] == "{id}",
            let id = context.parameters.get("id").flatMap(UUID.init(uuidString:))
        else { return nil }
        return ("\(parts[1])/" + parts[3...].joined(separator: "/"), id)
    }
}
