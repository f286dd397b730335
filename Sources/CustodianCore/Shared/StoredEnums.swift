import Postgres

// The domain's closed sets of values as the database stores them: each decodes from its text
// column, and a value outside the set is an error (see `PostgresTextEnum`).
extension StaffRole: PostgresTextEnum {}
extension ConsentPurposes.LawfulBasis: PostgresTextEnum {}
extension ConsentPurposes.AppliesTo: PostgresTextEnum {}
extension ConsentLedger.Action: PostgresTextEnum {}
extension ConsentLedger.Channel: PostgresTextEnum {}
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
