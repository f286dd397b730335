import CustodianCore
import Foundation
import Hummingbird
import JSONText

/// `/v1/requests/{id}/erasure-plan` (what erasing the case's person would do) and
/// `/v1/requests/{id}/erase` (doing it, admins only).
struct ErasureRoutes {
    let erasures: Erasures
    let cases: RequestCases
    let auth: StaffAuthenticator

    func register(on routes: inout RouteTable) {
        routes.on(.get, "/v1/requests/{id}/erasure-plan", use: auth.requiring(.staff, plan))
        routes.on(.post, "/v1/requests/{id}/erase", use: auth.requiring(.admin, erase))
    }

    @Sendable func plan(_: Request, context: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        let (requestCase, plan) = try await erasures.plan(forRequest: try context.parameters.uuid("id"))
        return JSONBody.response(ErasureJSON.plan(plan, of: requestCase))
    }

    /// Erases, or answers with the earlier erasure when the case was erased already.
    @Sendable func erase(_: Request, context: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        let outcome = try await erasures.erase(request: try context.parameters.uuid("id"), by: actor.member.id)
        var requestJSON = RequestJSON.staff(outcome.requestCase)
        requestJSON["history"] = .array(try await cases.history(of: outcome.requestCase.id).map(RequestJSON.event))
        return JSONBody.response(ErasureJSON.erasure(outcome, request: .object(requestJSON)))
    }
}

enum ErasureJSON {
    static func plan(_ plan: ErasurePlan, of requestCase: RequestCases.Case) -> JSONValue {
        .object([
            "request_id": .uuid(requestCase.id),
            "subject_type": .string(requestCase.subject.kind.rawValue),
            "subject_id": .uuid(requestCase.subject.id),
            "subjects": .array(plan.subjects.map { .object(["subject_type": .string($0.kind.rawValue), "subject_id": .uuid($0.id)]) }),
            "tables": .array(
                plan.tables.map { table in
                    .object([
                        "table": .string(table.table),
                        "action": .string(table.action.rawValue),
                        "rows": .integer(table.rows),
                        "columns": .array(
                            table.columns.map { column in
                                .object([
                                    "column": .string(column.column),
                                    "category": .string(column.category),
                                    "action": .string(column.action.rawValue),
                                    "values": .integer(column.values),
                                    "legal_basis": .string(column.legalBasis),
                                    "keep_condition": .string(column.keepCondition),
                                ])
                            }),
                    ])
                }),
            "suppressed_emails": .integer(plan.suppressedEmails),
        ])
    }

    static func erasure(_ outcome: Erasures.Outcome, request: JSONValue) -> JSONValue {
        .object([
            "request": request,
            "already_erased": .bool(outcome.alreadyDone),
            "erased_at": .timestamp(outcome.erasure.erasedAt),
            "erased_by": .uuid(outcome.erasure.erasedBy),
            "counts": outcome.erasure.counts,
            "tombstones": .array(
                outcome.erasure.tombstones.map { tombstone in
                    .object([
                        "subject_type": .string(tombstone.subject.kind.rawValue),
                        "subject_id": .uuid(tombstone.subject.id),
                        "chain_seq": tombstone.chainSeq.map { .integer(Int($0)) } ?? .null,
                        "chain_hash": tombstone.chainHash.map(JSONValue.hex) ?? .null,
                    ])
                }),
        ])
    }
}
