import CustodianCore

extension Person.Kind {
    /// Each kind of person with the path of its collection (`/v1/leads`), for routes every person has.
    static let collections: [(path: String, kind: Person.Kind)] = allCases.map { ("/v1/\($0.table)", $0) }
}
