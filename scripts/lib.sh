# Shared by the scripts in this folder: installing what Custodian needs and a local PostgreSQL.
# shellcheck shell=bash

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# PostgreSQL (server and client) and libpq's headers, from Debian, when missing.
ensure_packages() {
  local missing=()
  command -v pg_config >/dev/null 2>&1 && [ -f /usr/include/postgresql/libpq-fe.h ] || missing+=(libpq-dev)
  [ -n "$(pg_bindir 2>/dev/null)" ] && [ -x "$(pg_bindir)/initdb" ] || missing+=(postgresql)
  command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  command -v swift >/dev/null 2>&1 || { echo "swift is not on PATH: install Swift 6 first (swift.org)" >&2; exit 1; }
}

pg_bindir() { pg_config --bindir; }

# Runs a PostgreSQL server binary; as root, as the postgres user (initdb and postgres refuse root).
pg_tool() {
  local tool="$1"; shift
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$(pg_bindir)/$tool" "$@"
  else
    "$(pg_bindir)/$tool" "$@"
  fi
}

# A development cluster under .local/postgres (git ignores it), reachable by unix socket only.
local_cluster_dir="$repo_root/.local/postgres"
local_socket_dir="$local_cluster_dir/socket"

start_local_cluster() {
  local data="$local_cluster_dir/data"
  if [ ! -f "$data/PG_VERSION" ]; then
    log "creating a local PostgreSQL cluster in .local/postgres"
    mkdir -p "$local_socket_dir"
    [ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$local_cluster_dir"
    chmod 700 "$local_cluster_dir"
    pg_tool initdb -D "$data" -A trust -E UTF8 --locale=C -U postgres >/dev/null
  fi
  if ! pg_tool pg_ctl -D "$data" status >/dev/null 2>&1; then
    log "starting the local PostgreSQL cluster"
    pg_tool pg_ctl -D "$data" -l "$local_cluster_dir/server.log" -w \
      -o "-k $local_socket_dir -c listen_addresses='' -p 5432" start >/dev/null
  fi
  if ! psql -X -q -h "$local_socket_dir" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'custodian'" | grep -q 1; then
    psql -X -q -h "$local_socket_dir" -U postgres -d postgres -c "CREATE DATABASE custodian" >/dev/null
  fi
  echo "host=$local_socket_dir port=5432 user=postgres dbname=custodian"
}

stop_local_cluster() {
  local data="$local_cluster_dir/data"
  if [ -f "$data/PG_VERSION" ] && pg_tool pg_ctl -D "$data" status >/dev/null 2>&1; then
    pg_tool pg_ctl -D "$data" -m fast -w stop >/dev/null
    log "stopped the local PostgreSQL cluster"
  fi
}
