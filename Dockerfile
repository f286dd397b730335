# Build: the release binary, with the Swift runtime linked in statically.
ARG SWIFT_IMAGE=swift:6.2-bookworm
FROM ${SWIFT_IMAGE} AS build
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libpq-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies in a layer of their own, at the versions Package.resolved pins: a change of the
# sources alone does not fetch them again.
COPY Package.swift Package.resolved ./
RUN swift package resolve
# Tests/ too: the manifest names a target there, and SwiftPM checks every target's folder exists.
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --static-swift-stdlib --product custodian \
    && cp "$(swift build -c release --show-bin-path)/custodian" /custodian

# Run: Debian slim with libpq, the binary and the migrations.
FROM debian:bookworm-slim
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libpq5 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /app custodian
WORKDIR /app
COPY --from=build /custodian /usr/local/bin/custodian
COPY migrations ./migrations
USER custodian
ENV CUSTODIAN_HOST=0.0.0.0 CUSTODIAN_PORT=8080 CUSTODIAN_MIGRATIONS_DIR=/app/migrations
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["custodian"]
CMD ["serve"]
