import Testing

extension ContractClient {
    /// Creates a consent purpose (lawful basis consent) and returns its id.
    func createPurpose(
        key: String, name: String = "Newsletter", description: String = "Monthly news.", appliesTo: String = "both",
        lawfulBasis: String = "consent", directMarketing: Bool = false, doubleOptIn: Bool = false
    ) async throws -> String {
        try #require(
            try await create(
                "/v1/consent-purposes", key: key,
                #"{"name": "\#(name)", "description": "\#(description)", "lawful_basis": "\#(lawfulBasis)", "applies_to": "\#(appliesTo)", "direct_marketing": \#(directMarketing), "double_opt_in": \#(doubleOptIn)}"#
            )["id"] as? String)
    }
}
