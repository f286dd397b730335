import CustodianCore
import Foundation
import HTTPTypes
import Hummingbird
import JSONText
import NIOCore

/// The register of processing activities (GDPR Art. 30): `/v1/processing-activities` (what the
/// controller writes) and `/v1/register` (the whole register, derived and always current), as
/// JSON and as CSV, one line per activity, for the supervisory authority on request.
struct RegisterRoutes {
    let activities: ProcessingActivities
    let register: ProcessingRegister
    let auth: StaffAuthenticator

    func register(on routes: inout RouteTable) {
        routes.on(.get, "/v1/processing-activities", use: auth.requiring(.readonly, list))
        routes.on(.post, "/v1/processing-activities", use: auth.creating(.admin, create))
        routes.on(.get, "/v1/processing-activities/{id}", use: auth.requiring(.readonly, read))
        routes.on(.patch, "/v1/processing-activities/{id}", use: auth.requiring(.admin, update))
        routes.on(.get, "/v1/register", use: auth.requiring(.readonly, document))
        routes.on(.get, "/v1/register.csv", use: auth.requiring(.readonly, csv))
    }

    static func json(_ activity: ProcessingActivities.Activity) -> JSONValue {
        let definition = activity.definition
        return .object([
            "id": .uuid(activity.id),
            "name": .string(definition.name),
            "purpose": .string(definition.purpose),
            "consent_purpose_id": .uuid(definition.consentPurposeID),
            "lawful_basis": .string(definition.lawfulBasis?.rawValue),
            "subject_types": .array(definition.subjectTypes.map { .string($0.rawValue) }),
            "tables": definition.tables.map { .array($0.map(JSONValue.string)) } ?? .null,
            "other_recipients": .array(definition.otherRecipients.map(JSONValue.string)),
            "third_country_transfers": .array(
                definition.transfers.map(\.json)),
            "security_measures": .array(definition.securityMeasures.map(JSONValue.string)),
            "active": .bool(definition.active),
            "created_by": .uuid(activity.createdBy),
            "created_at": .timestamp(activity.createdAt),
            "updated_at": .timestamp(activity.updatedAt),
        ])
    }

    private func response(_ activity: ProcessingActivities.Activity, status: HTTPResponse.Status = .ok) -> Response {
        var response = JSONBody.response(Self.json(activity), status: status)
        response.headers[.eTag] = ETag.value(activity.revision)
        return response
    }

    /// Reads the members of a definition; on a create, `current` is nil and the required ones must be there.
    static func definition(_ fields: inout RequestFields, over current: ProcessingActivities.Definition?) -> ProcessingActivities
        .Definition?
    {
        let creating = current == nil
        let name = fields.string("name", required: creating, maxLength: 200).value
        let purpose = fields.string("purpose", required: creating, maxLength: 2000).value
        let consentPurpose = fields.uuid("consent_purpose_id", required: false)
        let basis = fields.choice("lawful_basis", ConsentPurposes.LawfulBasis.self, nullable: true)
        let kinds = texts(&fields, "subject_types", min: 1, max: 3, maxLength: 20, required: creating)
        var subjectTypes: [DataSubject.Kind]?
        if let kinds {
            subjectTypes = kinds.compactMap(DataSubject.Kind.init(rawValue:))
            if subjectTypes?.count != kinds.count { fields.fail("subject_types", "must list lead, contact or customer") }
        }
        var tables: [String]??
        if fields.rawMember("tables") == .null {
            tables = .some(nil)
        } else if let names = texts(&fields, "tables", min: 1, max: 100, maxLength: 63, required: false) {
            tables = .some(names)
        }
        let recipients = texts(&fields, "other_recipients", max: 50, maxLength: 300, required: false)
        let measures = texts(&fields, "security_measures", max: 50, maxLength: 500, required: false)
        let transfers = self.transfers(&fields)
        let active = fields.change("active")
        guard
            var definition = current
                ?? name.flatMap({ name in
                    purpose.map { ProcessingActivities.Definition(name: name, purpose: $0, lawfulBasis: nil, subjectTypes: []) }
                })
        else { return nil }
        if let name { definition.name = name }
        if let purpose { definition.purpose = purpose }
        switch consentPurpose {
        case .absent: break
        case .null: definition.consentPurposeID = nil
        case .value(let id): definition.consentPurposeID = id
        }
        if let basis { definition.lawfulBasis = basis }
        if let subjectTypes { definition.subjectTypes = subjectTypes }
        if let tables { definition.tables = tables }
        if let recipients { definition.otherRecipients = recipients }
        if let measures { definition.securityMeasures = measures }
        if let transfers { definition.transfers = transfers }
        if let active { definition.active = active }
        return definition
    }

    /// A list of at least `min` distinct texts, each held to what a single text field is (length
    /// in code points, no control characters, not blank); trimmed.
    private static func texts(
        _ fields: inout RequestFields, _ name: String, min: Int = 0, max: Int, maxLength: Int, required: Bool
    ) -> [String]? {
        guard let value = fields.rawMember(name) else {
            if required { fields.fail(name, "is required") }
            return nil
        }
        guard let items = value.array, (min...max).contains(items.count), case let texts = items.compactMap(\.string),
            texts.count == items.count, texts.allSatisfy({ RequestFields.problem(withText: $0, maxLength: maxLength) == nil }),
            Set(texts).count == texts.count
        else {
            fields.fail(name, "must be a list of \(min) to \(max) distinct texts of at most \(maxLength) characters, none blank")
            return nil
        }
        return texts.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    private static func transfers(_ fields: inout RequestFields) -> [ProcessingActivities.Transfer]? {
        guard let value = fields.rawMember("third_country_transfers") else { return nil }
        guard let items = value.array, items.count <= 20 else {
            fields.fail("third_country_transfers", "must be a list of at most 20 transfers")
            return nil
        }
        var transfers: [ProcessingActivities.Transfer] = []
        for item in items {
            guard let object = item.object, Set(object.keys) == ["country", "safeguard"],
                let country = object["country"]?.string, country.count == 2, country.allSatisfy({ $0.isASCII && $0.isUppercase }),
                let safeguard = object["safeguard"]?.string, RequestFields.problem(withText: safeguard, maxLength: 500) == nil
            else {
                fields.fail("third_country_transfers", "each must be {country: ISO 3166 code such as US, safeguard: 1 to 500 characters}")
                return nil
            }
            transfers.append(ProcessingActivities.Transfer(country: country, safeguard: safeguard))
        }
        return transfers
    }

    @Sendable func create(_ request: Request, _: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        var fields = try await RequestFields.read(request)
        let definition = Self.definition(&fields, over: nil)
        try fields.finish()
        guard let definition else { throw DomainError.invalid([]) }
        let activity = try await activities.create(definition, by: actor.member.id)
        return response(activity, status: .created).located(at: "/v1/processing-activities/\(activity.id.lowercasedString)")
    }

    @Sendable func list(_ request: Request, _: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        var query = ListQuery(request)
        let limit = query.limit()
        let cursor = try query.cursor()
        try query.finish()
        return JSONBody.response(try await activities.list(after: cursor, limit: limit).json(Self.json))
    }

    @Sendable func read(_: Request, context: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        response(try await activities.find(try context.parameters.uuid("id")))
    }

    @Sendable func update(_ request: Request, context: AppRequestContext, actor: AuthenticatedStaff) async throws -> Response {
        let id = try context.parameters.uuid("id")
        let expected = try ETag.expectedRevision(request)
        let current = try await activities.find(id)
        var fields = try await RequestFields.read(request)
        let definition = Self.definition(&fields, over: current.definition)
        try fields.finish()
        guard let definition else { throw DomainError.invalid([]) }
        return response(
            try await activities.update(id, expectedRevision: expected ?? current.revision, by: actor.member.id) { $0 = definition })
    }

    @Sendable func document(_ request: Request, _: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        try ListQuery(request, known: []).finish()
        return JSONBody.response(try await register.document())
    }

    /// One line per activity, every list joined with "; ", the controller on each line: a sheet
    /// that stands on its own.
    @Sendable func csv(_ request: Request, _: AppRequestContext, _: AuthenticatedStaff) async throws -> Response {
        try ListQuery(request, known: []).finish()
        let document = try await register.document()
        let controller = document["controller"] ?? .null
        let controllerText = [controller["name"], controller["address"], controller["email"]].compactMap { $0?.string }.joined(
            separator: ", ")
        let dpoText = [controller["dpo"]?["name"], controller["dpo"]?["email"]].compactMap { $0?.string }.joined(separator: ", ")
        var sheet = CSVText(header: [
            "activity", "purpose", "lawful_basis", "consent_purpose", "categories_of_people", "categories_of_data", "recipients",
            "third_country_transfers", "retention", "security_measures", "controller", "data_protection_officer",
        ])
        for activity in document["activities"]?.array ?? [] {
            func list(_ key: String, _ item: (JSONValue) -> String?) -> String {
                (activity[key]?.array ?? []).compactMap(item).joined(separator: "; ")
            }
            sheet.append([
                activity["name"]?.string ?? "", activity["purpose"]?.string ?? "", activity["lawful_basis"]?.string ?? "",
                activity["consent_purpose"]?["name"]?.string ?? "", list("categories_of_people", \.string),
                list("categories_of_data") { $0["category"]?.string },
                list("recipients") { recipient in recipient["name"]?.string.map { "\($0) (\(recipient["kind"]?.string ?? ""))" } },
                list("third_country_transfers") { transfer in
                    transfer["country"]?.string.map { "\($0): \(transfer["safeguard"]?.string ?? "")" }
                },
                list("retention", \.string), list("security_measures", \.string), controllerText, dpoText,
            ])
        }
        return sheet.response(filename: "register-of-processing.csv")
    }
}
