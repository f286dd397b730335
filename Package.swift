// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "custodian",
    // Linux only: the PostgreSQL module waits on sockets with epoll and wakes with eventfd
    // (Sources/Postgres says so at compile time on any other system).
    products: [
        .executable(name: "custodian", targets: ["CustodianCLI"])
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-async-algorithms.git", from: "1.1.4"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // libpq's C API, as Debian's libpq-dev installs it.
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // Our PostgreSQL client: connections, pool, transactions, typed rows.
        .target(
            name: "Postgres",
            dependencies: [
                "CLibPQ",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Plain-SQL schema migrations, applied in order under an advisory lock.
        .target(
            name: "Migrations",
            dependencies: [
                "Postgres",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // JSON text: the value, its parser and writer, and times as RFC 3339 (from PostgreSQL's
        // text too); every JSON the API writes goes through it.
        .target(
            name: "JSONText",
            dependencies: ["Postgres"]
        ),
        // The domain: staff and their keys, the CRM records, the GDPR rights; rules and SQL side by side.
        .target(
            name: "CustodianCore",
            dependencies: [
                "JSONText",
                "Postgres",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The HTTP shell: routing, middleware, problem+json, the endpoints.
        .target(
            name: "CustodianHTTP",
            dependencies: [
                "CustodianCore",
                "JSONText",
                "Postgres",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
            ]
        ),
        // The `custodian` command: serve, migrate.
        .executableTarget(
            name: "CustodianCLI",
            dependencies: [
                "Postgres",
                "Migrations",
                "JSONText",
                "CustodianCore",
                "CustodianHTTP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // A throwaway PostgreSQL cluster, per-test databases and the OpenAPI contract checker.
        .target(
            name: "TestSupport",
            dependencies: [
                "CustodianCore",
                "JSONText",
                "Postgres",
                "Migrations",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "PostgresTests",
            dependencies: ["Postgres", "TestSupport"]
        ),
        .testTarget(
            name: "MigrationsTests",
            dependencies: ["Migrations", "Postgres", "TestSupport"]
        ),
        // JSON text on its own: the parser against JSONDecoder, the writer, RFC 3339.
        .testTarget(
            name: "JSONTextTests",
            dependencies: ["JSONText"]
        ),
        // The domain's own rules without HTTP: cursors, codecs, ids, stored values.
        .testTarget(
            name: "CoreTests",
            dependencies: ["CustodianCore", "JSONText", "Postgres", "TestSupport"]
        ),
        .testTarget(
            name: "HTTPTests",
            dependencies: [
                "CustodianCore",
                "JSONText",
                "CustodianHTTP",
                "Postgres",
                "TestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
