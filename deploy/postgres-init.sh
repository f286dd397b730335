#!/usr/bin/env bash
# Run once by the postgres image when its volume is new (/docker-entrypoint-initdb.d): the two
# roles Custodian expects. `custodian` owns the schema and runs migrations; `custodian_api` is
# what the API connects as: it owns nothing and gets its privileges from `custodian migrate`.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v owner_password="$CUSTODIAN_OWNER_PASSWORD" -v api_password="$CUSTODIAN_API_PASSWORD" <<'SQL'
CREATE ROLE custodian LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'owner_password';
CREATE ROLE custodian_api LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'api_password';
CREATE DATABASE custodian OWNER custodian;
SQL
