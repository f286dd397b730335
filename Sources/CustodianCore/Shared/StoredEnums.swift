import Postgres

// The domain's closed sets of values as the database stores them: each decodes from its text
// column, and a value outside the set is an error (see `PostgresTextEnum`).
extension StaffRole: PostgresTextEnum {}
extension ConsentPurposes.LawfulBasis: PostgresTextEnum {}
extension ConsentPurposes.AppliesTo: PostgresTextEnum {}
extension ConsentLedger.Action: PostgresTextEnum {}
extension ConsentLedger.Channel: PostgresTextEnum {}
extension ConsentLedger.State: PostgresTextEnum {}
extension ConsentLinks.Link.State: PostgresTextEnum {}
extension CustomFieldDefinitions.Entity: PostgresTextEnum {}
extension CustomFieldDefinitions.FieldType: PostgresTextEnum {}
extension Policies.Kind: PostgresTextEnum {}
extension Policies.Language: PostgresTextEnum {}
extension Policies.Context: PostgresTextEnum {}
extension PersonExports.Audience: PostgresTextEnum {}
extension RequestCases.Kind: PostgresTextEnum {}
extension DataSubject.Kind: PostgresTextEnum {}
extension RequestCases.Channel: PostgresTextEnum {}
extension RequestCases.Status: PostgresTextEnum {}
extension RequestCases.RefusalCode: PostgresTextEnum {}
extension RequestCases.VerificationMethod: PostgresTextEnum {}
extension PortalAccounts.LinkPurpose: PostgresTextEnum {}
extension EventType: PostgresTextEnum {}
extension Restrictions.Ground: PostgresTextEnum {}
extension Person.Kind: PostgresTextEnum {}
extension RetentionPolicies.ActivityOf: PostgresTextEnum {}
extension RetentionPolicies.Action: PostgresTextEnum {}

extension Row {
    /// A column holding a JSON array of a closed set's names (`["access", "erasure"]`): like a
    /// single stored value, a name outside the set is an error (a corrupt row, or one a newer
    /// version wrote), never silently left out.
    public func decodeNames<Value: PostgresTextEnum>(_ column: String, as _: Value.Type = Value.self) throws -> [Value] {
        try decode(column, as: JSONB<[String]>.self).value.map { name in
            guard let value = Value(rawValue: name) else {
                throw RowDecodingError.cell(column: column, columnType: .jsonb, swiftType: "[\(Value.self)]", failure: .invalidValue)
            }
            return value
        }
    }
}
extension AuditActor.Kind: PostgresTextEnum {}
extension Breaches.Status: PostgresTextEnum {}
