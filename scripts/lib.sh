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

# A development cluster under .local/postgres (git ignores it), reachable by unix socket only,
# with the two roles production has: `custodian` owns the schema and runs migrations, and
# `custodian_api` is what the API connects as (it owns nothing; `custodian migrate` grants it
# what it may do). Both log in without a password over the socket (trust), as on a dev machine.
local_cluster_dir="$repo_root/.local/postgres"
local_socket_dir="$local_cluster_dir/socket"

local_psql() {
  psql -X -q -v ON_ERROR_STOP=1 -h "$local_socket_dir" -U postgres -d postgres "$@"
}

# Creates the cluster when there is none and starts it when it is stopped.
run_local_cluster() {
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
}

# The running cluster with both roles and the database, owned by the owner role.
start_local_cluster() {
  run_local_cluster
  local role
  for role in custodian custodian_api; do
    if ! local_psql -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$role'" | grep -q 1; then
      local_psql -c "CREATE ROLE $role LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE" >/dev/null
    fi
  done
  local owner
  owner=$(local_psql -tAc "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'custodian'")
  if [ -z "$owner" ]; then
    local_psql -c "CREATE DATABASE custodian OWNER custodian" >/dev/null
  elif [ "$owner" != "custodian" ]; then
    echo "The local database 'custodian' belongs to $owner, from before the API had a role of its own." >&2
    echo "Run 'scripts/run reset-db' to start it afresh (its data is deleted)." >&2
    exit 1
  fi
}

# The API's connection string and the migrations' (the owner's) for the local cluster.
local_database_url() { echo "host=$local_socket_dir port=5432 user=custodian_api dbname=custodian"; }
local_migrate_database_url() { echo "host=$local_socket_dir port=5432 user=custodian dbname=custodian"; }

reset_local_database() {
  run_local_cluster
  local_psql -c "DROP DATABASE IF EXISTS custodian WITH (FORCE)" >/dev/null
  log "dropped the local database; the next scripts/run creates it afresh"
}

stop_local_cluster() {
  local data="$local_cluster_dir/data"
  if [ -f "$data/PG_VERSION" ] && pg_tool pg_ctl -D "$data" status >/dev/null 2>&1; then
    pg_tool pg_ctl -D "$data" -m fast -w stop >/dev/null
    log "stopped the local PostgreSQL cluster"
  fi
}

# Installs a PyPI package into the project's own venv (.local/venv) unless it is there already:
# ensure_venv_package <module to import> <pip requirement>.
ensure_venv_package() {
  local module="$1" requirement="$2" venv="$repo_root/.local/venv"
  if ! "$venv/bin/python" -c "import $module" >/dev/null 2>&1; then
    log "installing $requirement into .local/venv"
    # Debian's own python3 ships venv separately.
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv" 2>/dev/null || {
      as_root apt-get install -y -qq python3-venv >/dev/null
      python3 -m venv "$venv"
    }
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$requirement"
  fi
}

# A throwaway cluster in DIR (an empty temporary directory the caller removes), reachable by
# unix socket only, with Custodian's two roles and a database `custodian` owned by the owner.
# Sets throwaway_database_url (the API role) and throwaway_migrate_url (the owner). Further
# arguments are server options, such as "-c max_connections=200".
start_throwaway_cluster() {
  local dir="$1"; shift
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
  chmod 700 "$dir"
  pg_tool initdb -D "$dir/data" -A trust -E UTF8 --locale=C -U postgres --no-sync >/dev/null
  pg_tool pg_ctl -D "$dir/data" -l "$dir/server.log" -w -o "-k $dir -c listen_addresses='' -p 5432 $*" start >/dev/null
  psql -X -q -v ON_ERROR_STOP=1 -h "$dir" -U postgres -d postgres >/dev/null <<'SQL'
CREATE ROLE custodian LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
CREATE ROLE custodian_api LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
CREATE DATABASE custodian OWNER custodian;
SQL
  throwaway_database_url="host=$dir port=5432 user=custodian_api dbname=custodian"
  throwaway_migrate_url="host=$dir port=5432 user=custodian dbname=custodian"
}

stop_throwaway_cluster() {
  [ -f "$1/data/PG_VERSION" ] && pg_tool pg_ctl -D "$1/data" -m immediate -w stop >/dev/null 2>&1 || true
}

# Builds custodian (debug) and serves it on a free port over a throwaway cluster in DIR (an empty
# temporary directory the caller removes with stop_throwaway_api). Sets binary, api (the base
# URL), admin_key (an admin's API key) and server_pid; the server logs to DIR/api.log. Further
# arguments go to `custodian serve`.
start_throwaway_api() {
  local dir="$1"; shift
  log "building custodian (debug)"
  swift build --product custodian >/dev/null
  binary="$(swift build --show-bin-path)/custodian"
  log "starting a throwaway stack"
  start_throwaway_cluster "$dir" -c fsync=off -c synchronous_commit=off
  export DATABASE_URL="$throwaway_database_url" CUSTODIAN_MIGRATE_DATABASE_URL="$throwaway_migrate_url"
  export CUSTODIAN_LOG_LEVEL="${CUSTODIAN_LOG_LEVEL:-warning}"
  "$binary" migrate >/dev/null
  admin_key="$("$binary" api-key create --name "Throwaway Admin" --role admin)"
  local port
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  # The server reads its secrets from files, as it would from Docker or Kubernetes secrets.
  "$binary" secret-key generate >"$dir/secret-key" 2>/dev/null
  printf '%s\n' "$DATABASE_URL" >"$dir/database-url"
  metrics_token="$(openssl rand -hex 32)"
  env -u DATABASE_URL DATABASE_URL_FILE="$dir/database-url" CUSTODIAN_SECRET_KEY_FILE="$dir/secret-key" \
    CUSTODIAN_METRICS_TOKEN="$metrics_token" \
    "$binary" serve --port "$port" "$@" >"$dir/api.log" 2>&1 &
  server_pid=$!
  api="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do
    curl -fsS "$api/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  curl -fsS "$api/readyz" >/dev/null
}

stop_throwaway_api() {
  [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  stop_throwaway_cluster "$1"
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Waits (up to 10 s) until the server at URL answers /readyz.
wait_ready() {
  for _ in $(seq 1 100); do curl -fsS "$1/readyz" >/dev/null 2>&1 && return 0; sleep 0.1; done
  curl -fsS "$1/readyz" >/dev/null
}

# HAProxy (installed from Debian when missing) in front of the API instances on PORTS, round
# robin, health-checked on /readyz; its config and log go into DIR. Sets balancer_url and
# balancer_pid.
start_balancer() {
  local dir="$1"; shift
  command -v haproxy >/dev/null 2>&1 || {
    log "installing haproxy"
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq haproxy >/dev/null
  }
  local port number=0 servers=""
  for port in "$@"; do
    number=$((number + 1))
    servers+="  server instance$number 127.0.0.1:$port check inter 1s"$'\n'
  done
  port="$(free_port)"
  cat >"$dir/haproxy.cfg" <<CFG
global
  maxconn 256
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
frontend api
  bind 127.0.0.1:$port
  option forwardfor
  default_backend instances
backend instances
  balance roundrobin
  option httpchk GET /readyz
$servers
CFG
  haproxy -f "$dir/haproxy.cfg" -db >"$dir/haproxy.log" 2>&1 &
  balancer_pid=$!
  balancer_url="http://127.0.0.1:$port"
  wait_ready "$balancer_url"
}
