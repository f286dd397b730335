import CustodianCore
import Hummingbird
import Logging
import NIOCore
import Postgres

/// Everything the HTTP server needs, read from the environment and flags by the CLI.
public struct ServerSettings: Sendable {
    public var host: String
    public var port: Int
    public var maxBodyBytes: Int
    /// How long `/readyz` waits for a database connection before answering 503.
    public var readinessTimeout: Duration
    /// Consent links are this, `/`, and the token.
    public var consentLinkBaseURL: String
    /// Requests per window and client address on the public (unauthenticated) endpoints.
    public var publicRateLimit: Int
    public var publicRateWindow: Duration
    /// Public requests handled at once by this process; more get 503 at once.
    public var publicMaxConcurrent: Int
    /// How long a public request's body may take to arrive (it is read before the request takes
    /// one of the `publicMaxConcurrent` slots); slower ones get 408.
    public var publicBodyReadTimeout: Duration
    /// A connection that sends no complete request for this long is closed.
    public var idleTimeout: Duration
    /// How long a streamed export waits for a reader that stopped reading before it is ended
    /// (and its database connection freed).
    public var exportStallTimeout: Duration
    /// Proxies whose X-Forwarded-For entries are believed (empty: the peer is the client).
    public var trustedProxies: [IPNetwork]
    /// Signs consent receipts.
    public var signingKey: SigningKey
    /// Keys erased people's email hashes and seals webhook secrets.
    public var secrets: ServerSecrets
    public var webhooks: WebhookDispatcher.Configuration
    /// bcrypt's work factor for customer-area passwords.
    public var passwordCost: UInt8
    /// Password checks (logins, registrations, changes) running or waiting at once; more get 503 `busy`.
    public var passwordChecksInFlight: Int
    /// Password-reset and invitation links are this, `?token=`, and the token.
    public var portalLinkBaseURL: String
    /// Registration confirmation links are this, `?token=`, and the token: a frontend's page that
    /// posts it to `/v1/portal/register/confirm`.
    public var portalRegistrationLinkBaseURL: String
    /// Links that confirm a person's new email address are this, `?token=`, and the token (this
    /// server's `/confirm-email` page unless a frontend has its own).
    public var emailConfirmationBaseURL: String
    /// Where the server is reached from outside (`https://privacy.example.com`): consent events
    /// carry the unsubscribe page `<this>/u/{token}` and the one-click URL
    /// `<this>/v1/public/unsubscribe/{token}` for a mail's `List-Unsubscribe`.
    public var unsubscribeBaseURL: String
    /// How long an authenticated API key is remembered: a key revoked through another instance
    /// is refused by this one within this time (through this one, at once).
    public var keyCacheLifetime: Duration
    /// Browser origins (`https://app.example.com`) allowed to call the JSON API; empty: none.
    public var corsOrigins: [String]
    /// Whether reads are written to the audit trail (changes always are). Off only to measure
    /// what recording costs (`bench/contacts`).
    public var auditReads: Bool
    /// Where the server's metrics go (one registry per server), and the token `GET /metrics`
    /// asks for (nil: the endpoint answers 404).
    public var metrics: AppMetrics
    public var metricsToken: String?

    public init(
        host: String = "127.0.0.1",
        port: Int = 8080,
        maxBodyBytes: Int = 1 << 20,
        readinessTimeout: Duration = .seconds(2),
        consentLinkBaseURL: String = "http://127.0.0.1:8080/p",
        publicRateLimit: Int = 60,
        publicRateWindow: Duration = .seconds(60),
        publicMaxConcurrent: Int = 64,
        publicBodyReadTimeout: Duration = .seconds(10),
        idleTimeout: Duration = .seconds(30),
        exportStallTimeout: Duration = .seconds(15),
        trustedProxies: [IPNetwork] = [],
        signingKey: SigningKey = .generate(),
        secrets: ServerSecrets = ServerSecrets(current: .generate()),
        webhooks: WebhookDispatcher.Configuration = .init(),
        passwordCost: UInt8 = 12,
        passwordChecksInFlight: Int = 2 * System.coreCount,
        portalLinkBaseURL: String = "http://127.0.0.1:8080/portal/password",
        portalRegistrationLinkBaseURL: String = "http://127.0.0.1:8080/portal/confirm-registration",
        emailConfirmationBaseURL: String = "http://127.0.0.1:8080/confirm-email",
        unsubscribeBaseURL: String = "http://127.0.0.1:8080",
        keyCacheLifetime: Duration = .seconds(1),
        corsOrigins: [String] = [],
        auditReads: Bool = true,
        metrics: AppMetrics = AppMetrics(),
        metricsToken: String? = nil
    ) {
        self.host = host
        self.port = port
        self.maxBodyBytes = maxBodyBytes
        self.readinessTimeout = readinessTimeout
        self.consentLinkBaseURL = consentLinkBaseURL
        self.publicRateLimit = publicRateLimit
        self.publicRateWindow = publicRateWindow
        self.publicMaxConcurrent = publicMaxConcurrent
        self.publicBodyReadTimeout = publicBodyReadTimeout
        self.idleTimeout = idleTimeout
        self.exportStallTimeout = exportStallTimeout
        self.trustedProxies = trustedProxies
        self.signingKey = signingKey
        self.secrets = secrets
        self.webhooks = webhooks
        self.passwordCost = passwordCost
        self.passwordChecksInFlight = passwordChecksInFlight
        self.portalLinkBaseURL = portalLinkBaseURL
        self.portalRegistrationLinkBaseURL = portalRegistrationLinkBaseURL
        self.emailConfirmationBaseURL = emailConfirmationBaseURL
        self.unsubscribeBaseURL = unsubscribeBaseURL
        self.keyCacheLifetime = keyCacheLifetime
        self.corsOrigins = corsOrigins
        self.auditReads = auditReads
        self.metrics = metrics
        self.metricsToken = metricsToken
    }
}

/// What `buildRouter` makes: the router, the catalogue of what it serves, and the work the server
/// does beside requests.
public struct AppParts {
    public let router: Router<AppRequestContext>
    public let catalog: RouteCatalog
    public let upkeep: Housekeeping
    public let dispatcher: WebhookDispatcher
}

/// The router with every middleware and endpoint, and the catalogue of what it serves. Public
/// (keyless) endpoints use `publicDatabase`, a pool of their own, so that they cannot take the
/// staff API's connections; without one they share `database`. `extraRoutes` lets tests exercise
/// shared machinery (JSON bodies) through real endpoints.
public func buildRouter(
    settings: ServerSettings,
    database: PostgresPool,
    publicDatabase: PostgresPool? = nil,
    logger: Logger = Logger(label: "custodian"),
    extraRoutes: (inout RouteTable) -> Void = { _ in }
) -> AppParts {
    var routes = RouteTable()
    HealthRoutes(database: database, databaseTimeout: settings.readinessTimeout).register(on: &routes)
    MetricsRoutes(
        metrics: settings.metrics, tokenHash: settings.metricsToken.map(Secret.hash), database: database,
        publicDatabase: publicDatabase ?? database
    ).register(on: &routes)
    let directory = StaffDirectory(database: database, keyCache: KeyCache(lifetime: settings.keyCacheLifetime))
    let auth = StaffAuthenticator(
        directory: directory, idempotency: Idempotency(database: database, maxBodyBytes: settings.maxBodyBytes),
        audit: AuditedRequests(writer: AuditWriter(database: database), recordsReads: settings.auditReads))
    StaffRoutes(directory: directory, auth: auth).register(on: &routes)
    let definitions = CustomFieldDefinitions(database: database)
    CustomFieldRoutes(definitions: definitions, auth: auth).register(on: &routes)
    RecordRoutes.customers(RecordStore(table: Customers.table, database: database), auth: auth, definitions: definitions).register(
        on: &routes)
    let suppressions = Suppressions(database: database, secrets: settings.secrets)
    RecordRoutes.contacts(Contacts(database: database), auth: auth, definitions: definitions, suppressions: suppressions)
        .register(on: &routes)
    let leads = Leads(database: database)
    RecordRoutes.leads(leads, auth: auth, definitions: definitions, suppressions: suppressions).register(on: &routes)
    LeadConversionRoute(leads: leads, auth: auth).register(on: &routes)
    NoteRoutes(notes: Notes(database: database), auth: auth).register(on: &routes)
    let ledger = ConsentLedger(database: database)
    let receipts = ConsentReceipts(key: settings.signingKey, database: database)
    ConsentPurposeRoutes(purposes: ConsentPurposes(database: database), ledger: ledger, auth: auth).register(on: &routes)
    PersonConsentRoutes(ledger: ledger, receipts: receipts, auth: auth).register(on: &routes)
    ConsentLinkRoutes(links: ConsentLinks(database: database), auth: auth, baseURL: settings.consentLinkBaseURL).register(on: &routes)
    ConsentSettingsRoutes(settings: ConsentSettings(database: database), auth: auth).register(on: &routes)
    let cases = RequestCases(database: database)
    RequestRoutes(cases: cases, auth: auth).register(on: &routes)
    RestrictionRoutes(restrictions: Restrictions(database: database), auth: auth).register(on: &routes)
    AuditRoutes(database: database, auth: auth).register(on: &routes)
    let breaches = Breaches(database: database)
    BreachRoutes(breaches: breaches, auth: auth).register(on: &routes)
    RetentionRoutes(policies: RetentionPolicies(database: database), auth: auth).register(on: &routes)
    LegalHoldRoutes(holds: LegalHolds(database: database), auth: auth).register(on: &routes)
    ControllerRoutes(details: ControllerDetails(database: database), auth: auth).register(on: &routes)
    RegisterRoutes(activities: ProcessingActivities(database: database), register: ProcessingRegister(database: database), auth: auth)
        .register(on: &routes)
    let retention = RetentionRuns(database: database, secrets: settings.secrets, logger: logger)
    ErasureRoutes(erasures: Erasures(database: database, secrets: settings.secrets), cases: cases, auth: auth).register(on: &routes)
    RequestSettingsRoutes(settings: RequestSettings(database: database), auth: auth).register(on: &routes)
    let exports = PersonExports(database: database)
    ExportRoutes(exports: exports, settings: ExportSettings(database: database), auth: auth, stallTimeout: settings.exportStallTimeout)
        .register(on: &routes)
    PrivacyRoutes(centre: PrivacyCentre(database: database), auth: auth).register(on: &routes)
    let feeds = Feeds(database: database)
    FeedRoutes(feeds: feeds, auth: auth, metrics: settings.metrics).register(on: &routes)
    let deliveries = WebhookDeliveries(database: database, secrets: settings.secrets, unsubscribeBaseURL: settings.unsubscribeBaseURL)
    WebhookRoutes(
        endpoints: WebhookEndpoints(database: database, secrets: settings.secrets), deliveries: deliveries, auth: auth,
        destinations: settings.webhooks.destinations
    )
    .register(on: &routes)

    let publicPool = publicDatabase ?? database
    // The person's own reads go into the trail through the public pool, grouped by one writer.
    let personAudit = AuditedRequests(writer: AuditWriter(database: publicPool), recordsReads: settings.auditReads)
    let limiter = RateLimiter(
        database: publicPool, addressKey: settings.secrets.current, limit: settings.publicRateLimit, window: settings.publicRateWindow)
    let loginFailures = LoginFailures(database: publicPool, addressKey: settings.secrets.current)
    let gate = PublicGate(
        limiter: limiter, maxConcurrent: settings.publicMaxConcurrent, maxBodyBytes: settings.maxBodyBytes,
        bodyReadTimeout: settings.publicBodyReadTimeout)
    let publicReceipts = ConsentReceipts(key: settings.signingKey, database: publicPool)
    PublicConsentRoutes(
        links: ConsentLinks(database: publicPool),
        ledger: ConsentLedger(database: publicPool),
        receipts: publicReceipts,
        gate: gate,
        audit: personAudit
    ).register(on: &routes)
    PublicKeyRoutes(receipts: publicReceipts, gate: gate).register(on: &routes)
    WebFormRoutes(forms: WebForms(database: database), publicForms: WebForms(database: publicPool), auth: auth, gate: gate)
        .register(on: &routes)
    PolicyRoutes(policies: Policies(database: database), publicPolicies: Policies(database: publicPool), auth: auth, gate: gate)
        .register(on: &routes)
    let emailChanges = EmailChanges(database: publicPool, secrets: settings.secrets, linkBaseURL: settings.emailConfirmationBaseURL)
    EmailConfirmationRoutes(emailChanges: emailChanges, gate: gate).register(on: &routes)
    let own = OwnData(
        cases: RequestCases(database: publicPool),
        exports: PersonExports(database: publicPool),
        policies: Policies(database: publicPool),
        centre: PrivacyCentre(database: publicPool), exportStallTimeout: settings.exportStallTimeout, emailChanges: emailChanges,
        ledger: ConsentLedger(database: publicPool))
    PublicPeopleRoutes(
        links: ConsentLinks(database: publicPool), own: own, gate: gate,
        audit: personAudit
    )
    .register(on: &routes)
    let hasher = PasswordHasher(cost: settings.passwordCost, maxInFlight: settings.passwordChecksInFlight)
    let portalAccounts = PortalAccounts(
        database: publicPool, hasher: hasher, secrets: settings.secrets, linkBaseURL: settings.portalLinkBaseURL,
        registrationLinkBaseURL: settings.portalRegistrationLinkBaseURL)

    let portalAuth = PortalAuthenticator(accounts: portalAccounts, gate: gate, audit: personAudit)
    let pageForms = PageForms(
        protection: FormProtection(secrets: settings.secrets),
        secureCookie: settings.consentLinkBaseURL.lowercased().hasPrefix("https://"))
    PrivacyCentrePage(
        links: ConsentLinks(database: publicPool), own: own, requestSettings: RequestSettings(database: publicPool), forms: pageForms,
        gate: gate, audit: personAudit
    ).register(on: &routes)
    WebFormPage(forms: WebForms(database: publicPool), policies: Policies(database: publicPool), pageForms: pageForms, gate: gate)
        .register(on: &routes)
    PortalRoutes(accounts: portalAccounts, auth: portalAuth, gate: gate, failures: loginFailures).register(on: &routes)
    PortalMeRoutes(auth: portalAuth, own: own, accounts: portalAccounts).register(on: &routes)
    EmailConfirmationPage(emailChanges: emailChanges, pageForms: pageForms, gate: gate).register(on: &routes)
    UnsubscribeRoutes(ledger: ConsentLedger(database: publicPool), secrets: settings.secrets, gate: gate).register(on: &routes)
    LinkRequestRoutes(
        links: ConsentLinks(database: publicPool), gate: gate, linkBaseURL: settings.consentLinkBaseURL, secrets: settings.secrets
    ).register(on: &routes)
    UnsubscribePage(ledger: ConsentLedger(database: publicPool), secrets: settings.secrets, pageForms: pageForms, gate: gate)
        .register(on: &routes)
    let confirmations = ConsentConfirmations(database: publicPool, secrets: settings.secrets)
    ConsentConfirmationRoutes(confirmations: confirmations, gate: gate).register(on: &routes)
    ConsentConfirmationPage(confirmations: confirmations, pageForms: pageForms, gate: gate).register(on: &routes)
    PortalSettingsRoutes(
        settings: PortalSettings(database: database),
        accounts: PortalAccounts(
            database: database, hasher: hasher, secrets: settings.secrets, linkBaseURL: settings.portalLinkBaseURL,
            registrationLinkBaseURL: settings.portalRegistrationLinkBaseURL),
        auth: auth
    ).register(on: &routes)
    extraRoutes(&routes)
    let catalog = routes.catalog

    let router = Router(context: AppRequestContext.self)
    router.add(middleware: EventLoopAffinityMiddleware())
    // Order matters: the request id comes first so every later log line and error carries it.
    router.add(middleware: RequestIDMiddleware())
    router.add(middleware: AccessLogMiddleware(metrics: settings.metrics))
    if !settings.corsOrigins.isEmpty {
        // Outside the problem middleware: a browser must be able to read an error's answer too.
        router.add(middleware: CORSMiddleware(allowedOrigins: settings.corsOrigins))
    }
    router.add(middleware: ProblemMiddleware(routes: catalog, metrics: settings.metrics))
    router.add(middleware: ConditionalGetMiddleware())
    router.add(middleware: ClientAddressMiddleware(trustedProxies: settings.trustedProxies))
    router.add(middleware: AbandonedRequestMiddleware())
    router.add(middleware: BodyLimitMiddleware(maxBytes: settings.maxBodyBytes))
    routes.install(on: router)
    let upkeep = Housekeeping(
        jobs: [
            .init(name: "rate-limit windows", work: limiter.sweep),
            .init(name: "failed portal logins", work: loginFailures.sweep),
            .init(name: "idempotency keys", work: IdempotencyKeys(database: database).purgeExpired),
            .init(name: "request deadlines", work: cases.announceDeadlines),
            .init(name: "feed changes", work: feeds.purge),
            .init(name: "expired case exports", work: exports.removeExpiredAttachments),
            .init(name: "form submissions", work: WebForms(database: database).forgetOldSubmissions),
            .init(name: "portal sessions and links", work: portalAccounts.purgeExpired),
            .init(name: "breach deadlines", work: breaches.announceDeadlines),
            .init(name: "retention policies", work: retention.runDue),
            .init(name: "audit trail months", work: { try await AuditTrail.prepareMonths(on: database) }),
        ],
        logger: logger
    )
    let dispatcher = WebhookDispatcher(
        deliveries: deliveries, configuration: settings.webhooks, logger: logger, metrics: settings.metrics)
    return AppParts(router: router, catalog: catalog, upkeep: upkeep, dispatcher: dispatcher)
}

/// The Hummingbird application, with the database pool as a service that closes after the server
/// has drained its in-flight requests.
public func buildApplication(
    settings: ServerSettings,
    database: PostgresPool,
    publicDatabase: PostgresPool,
    logger: Logger,
    onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let parts = buildRouter(settings: settings, database: database, publicDatabase: publicDatabase, logger: logger)
    var app = Application(
        router: parts.router,
        server: .http1(configuration: .init(idleTimeout: TimeAmount(settings.idleTimeout))),
        configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: nil),
        onServerRunning: onServerRunning,
        logger: logger
    )
    app.addServices(database, publicDatabase, parts.upkeep, parts.dispatcher)
    return app
}
