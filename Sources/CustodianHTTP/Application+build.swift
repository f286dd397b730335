import CustodianCore
import Hummingbird
import Logging
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
    /// Take the client address from X-Forwarded-For (only behind a proxy that sets it).
    public var trustForwardedFor: Bool

    public init(
        host: String = "127.0.0.1",
        port: Int = 8080,
        maxBodyBytes: Int = 1 << 20,
        readinessTimeout: Duration = .seconds(2),
        consentLinkBaseURL: String = "http://127.0.0.1:8080/v1/public/consent",
        publicRateLimit: Int = 60,
        publicRateWindow: Duration = .seconds(60),
        trustForwardedFor: Bool = false
    ) {
        self.publicRateWindow = publicRateWindow
        self.host = host
        self.port = port
        self.maxBodyBytes = maxBodyBytes
        self.readinessTimeout = readinessTimeout
        self.consentLinkBaseURL = consentLinkBaseURL
        self.publicRateLimit = publicRateLimit
        self.trustForwardedFor = trustForwardedFor
    }
}

/// The router with every middleware and endpoint, and the catalogue of what it serves.
/// `extraRoutes` lets tests exercise shared machinery (JSON bodies) through real endpoints.
public func buildRouter(
    settings: ServerSettings,
    database: PostgresPool,
    extraRoutes: (inout RouteTable) -> Void = { _ in }
) -> (router: Router<AppRequestContext>, catalog: RouteCatalog) {
    var routes = RouteTable()
    HealthRoutes(database: database, databaseTimeout: settings.readinessTimeout).register(on: &routes)
    let directory = StaffDirectory(database: database)
    let auth = StaffAuthenticator(directory: directory)
    StaffRoutes(directory: directory, auth: auth).register(on: &routes)
    let definitions = CustomFieldDefinitions(database: database)
    CustomFieldRoutes(definitions: definitions, auth: auth).register(on: &routes)
    RecordRoutes.customers(RecordStore(table: Customers.table, database: database), auth: auth, definitions: definitions).register(
        on: &routes)
    RecordRoutes.contacts(Contacts(database: database), auth: auth, definitions: definitions).register(on: &routes)
    let leads = Leads(database: database)
    RecordRoutes.leads(leads, auth: auth, definitions: definitions).register(on: &routes)
    LeadConversionRoute(leads: leads, auth: auth).register(on: &routes)
    NoteRoutes(notes: Notes(database: database), auth: auth).register(on: &routes)
    let ledger = ConsentLedger(database: database)
    ConsentPurposeRoutes(purposes: ConsentPurposes(database: database), ledger: ledger, auth: auth).register(on: &routes)
    PersonConsentRoutes(ledger: ledger, auth: auth).register(on: &routes)
    let links = ConsentLinks(database: database)
    ConsentLinkRoutes(links: links, auth: auth, baseURL: settings.consentLinkBaseURL).register(on: &routes)
    ConsentSettingsRoutes(settings: ConsentSettings(database: database), auth: auth).register(on: &routes)
    PublicConsentRoutes(
        links: links,
        ledger: ledger,
        limiter: RateLimiter(database: database, limit: settings.publicRateLimit, window: settings.publicRateWindow),
        trustForwardedFor: settings.trustForwardedFor
    ).register(on: &routes)
    extraRoutes(&routes)
    let catalog = routes.catalog

    let router = Router(context: AppRequestContext.self)
    // Order matters: the request id comes first so every later log line and error carries it.
    router.add(middleware: RequestIDMiddleware())
    router.add(middleware: AccessLogMiddleware())
    router.add(middleware: ProblemMiddleware(routes: catalog))
    router.add(middleware: BodyLimitMiddleware(maxBytes: settings.maxBodyBytes))
    routes.install(on: router)
    return (router, catalog)
}

/// The Hummingbird application, with the database pool as a service that closes after the server
/// has drained its in-flight requests.
public func buildApplication(
    settings: ServerSettings,
    database: PostgresPool,
    logger: Logger
) -> some ApplicationProtocol {
    let (router, _) = buildRouter(settings: settings, database: database)
    var app = Application(
        router: router,
        configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: nil),
        logger: logger
    )
    app.addServices(database)
    return app
}
