import Testing

extension ContractClient {
    /// Creates a consent purpose (lawful basis consent) and returns its id.
    func createPurpose(
        key: String, name: String = "Newsletter", description: String = "Monthly news.", appliesTo: String = "both"
    ) async throws -> String {
        try #require(
            try await create(
                "/v1/consent-purposes", key: key,
                #"{"name": "\#(name)", "description": "\#(description)", "lawful_basis": "consent", "applies_to": "\#(appliesTo)"}"#
            )["id"] as? String)
    }
}
