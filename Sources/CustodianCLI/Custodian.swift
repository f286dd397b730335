import ArgumentParser

@main
struct Custodian: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "custodian",
        abstract: "A self-hosted CRM backend that gives every person in it their GDPR rights.",
        discussion: "Every option can also be set by the environment variable named in its help; a flag wins over the environment.",
        subcommands: [
            Serve.self, Migrate.self, APIKey.self, SigningKeyCommand.self, SecretKeyCommand.self, Seed.self, AuditExpire.self,
            Retention.self, ErasuresCommand.self,
        ]
    )
}
