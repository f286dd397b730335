# Shared by the benchmarks: a throwaway cluster, the release binary serving on it, and cleanup.
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

bench_port="${PORT:-18080}"
bench_pool="${POOL:-8}"
bench_threads=2

bench_setup() {
  ensure_packages
  command -v wrk >/dev/null 2>&1 || { log "installing wrk"; as_root apt-get install -y -qq wrk >/dev/null; }
  work="$(mktemp -d /tmp/custodian-bench-XXXXXX)"
  server_pid=""
  server_pids=()
  trap bench_cleanup EXIT

  log "throwaway cluster in $work"
  # PG_OPTIONS adds server options, such as "-c log_min_duration_statement=100".
  start_throwaway_cluster "$work" -c max_connections=200 ${PG_OPTIONS:-}
  # The API's role serves and seeds; the superuser runs pgbench and the set-up SQL.
  database_url="$throwaway_database_url"

  # BENCH_BINARY measures another build (an earlier commit's, to compare two in turns).
  if [ -n "${BENCH_BINARY:-}" ]; then
    binary="$BENCH_BINARY"
  else
    log "building the release binary"
    swift build -c release --product custodian >/dev/null
    binary="$(swift build -c release --show-bin-path)/custodian"
  fi
  DATABASE_URL="$database_url" CUSTODIAN_MIGRATE_DATABASE_URL="$throwaway_migrate_url" "$binary" migrate >/dev/null
}

# bench_start_server [PORT [VAR=VALUE...]]: the release binary serving on 127.0.0.1:PORT
# ($bench_port by default) with the settings given; several may run side by side.
bench_start_server() {
  local port="${1:-$bench_port}"; shift || true
  log "starting custodian on 127.0.0.1:$port (pool $bench_pool) $*"
  env DATABASE_URL="$database_url" CUSTODIAN_LOG_LEVEL=warning CUSTODIAN_DB_POOL_SIZE="$bench_pool" \
    CUSTODIAN_SECRET_KEY="$("$binary" secret-key generate 2>/dev/null)" "$@" \
    "$binary" serve --host 127.0.0.1 --port "$port" >>"$work/custodian.log" 2>&1 &
  server_pids+=("$!")
  server_pid=$!
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null
}

bench_cleanup() {
  # BENCH_SERVER_LOG names a file to keep PostgreSQL's log in.
  [ -n "${BENCH_SERVER_LOG:-}" ] && cp "$work/server.log" "$BENCH_SERVER_LOG" 2>/dev/null
  for pid in "${server_pids[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  stop_throwaway_cluster "$work"
  rm -rf "$work"
}

# bench_wrk NAME URL [wrk args...]: a warm-up, then a measured run saved to $work/NAME.wrk
bench_wrk() {
  local name="$1" url="$2"; shift 2
  log "wrk: $name, $connections connections, ${duration}s"
  wrk -t"$bench_threads" -c"$connections" -d2s "$@" "$url" >/dev/null
  wrk -t"$bench_threads" -c"$connections" -d"${duration}s" --latency "$@" "$url" | tee "$work/$name.wrk"
}

# bench_pgbench NAME SQL: the same SQL through pgbench, saved to $work/NAME.pgbench
bench_pgbench() {
  local name="$1" sql="$2"
  log "pgbench: $name, $connections connections, ${duration}s"
  printf '%s\n' "$sql" > "$work/$name.sql"
  chmod 644 "$work/$name.sql"
  (cd "$work" && "$(pg_bindir)/pgbench" -n -M "${PGBENCH_MODE:-prepared}" -h "$work" -U postgres -c "$connections" -j "$bench_threads" \
    -T "$duration" -f "$work/$name.sql" custodian) | tee "$work/$name.pgbench"
}

# bench_keep_round N NAME...: keeps this round's wrk and pgbench output of each load for bench_report.
bench_keep_round() {
  local round="$1"; shift
  for name in "$@"; do
    mv "$work/$name.wrk" "$work/$name.round$round.wrk"
    mv "$work/$name.pgbench" "$work/$name.round$round.pgbench"
  done
}

# bench_report NAME...: requests/s and latency of each API/pgbench pair, and their ratio; with
# rounds (bench_keep_round), each round's ratio and the round with the median ratio.
# pgbench's per-transaction log is useless here (its lazy clock logs most short queries as 0 µs),
# so its latency is the average it reports.
bench_report() {
  python3 - "$work" "$duration" "$connections" "$bench_pool" "$@" <<'PY'
import glob, json, re, sys, datetime
work, duration, connections, pool, names = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:]
def latency(text, label):
    m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\b", text, re.M)
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
def measure(name, wrk_file, pg_file):
    wrk, pg = open(wrk_file).read(), open(pg_file).read()
    api_rps = float(re.search(r"Requests/sec:\s+([\d.]+)", wrk).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", wrk)
    pg_rps = float(re.search(r"tps = ([\d.]+)", pg).group(1))
    pg_avg = float(re.search(r"latency average = ([\d.]+) ms", pg).group(1))
    return {"name": name, "api_rps": round(api_rps), "api_p50_ms": round(latency(wrk, 50), 3),
            "api_p99_ms": round(latency(wrk, 99), 3), "api_non_2xx": int(non2xx.group(1)) if non2xx else 0,
            "pgbench_rps": round(pg_rps), "pgbench_avg_ms": pg_avg, "ratio_api_over_pgbench": round(api_rps / pg_rps, 3)}
print(f"\n{'':28}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'avg ms':>10}")
results = []
for name in names:
    rounds = sorted(glob.glob(f"{work}/{name}.round*.wrk"), key=lambda f: int(re.search(r"round(\d+)", f).group(1)))
    if rounds:
        measured = [measure(name, f, f[:-len(".wrk")] + ".pgbench") for f in rounds]
        by_ratio = sorted(measured, key=lambda m: m["ratio_api_over_pgbench"])
        r = dict(by_ratio[(len(by_ratio) - 1) // 2])
        r["round_ratios"] = [m["ratio_api_over_pgbench"] for m in measured]
        r["api_non_2xx"] = sum(m["api_non_2xx"] for m in measured)
        print(f"{name}: ratio per round {', '.join(str(x) for x in r['round_ratios'])}; the median round:")
    else:
        r = measure(name, f"{work}/{name}.wrk", f"{work}/{name}.pgbench")
    results.append(r)
    print(f"{'API ' + name:28}{r['api_rps']:>10}{r['api_p50_ms']:>10}{r['api_p99_ms']:>10}{'':>10}")
    print(f"{'pgbench ' + name:28}{r['pgbench_rps']:>10}{'':>10}{'':>10}{r['pgbench_avg_ms']:>10}")
    print(f"{'ratio API/pgbench':28}{r['ratio_api_over_pgbench']:>10}   (non-2xx answers: {r['api_non_2xx']})")
print(json.dumps({"date": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"), "duration_s": duration,
                  "connections": connections, "pool": pool, "results": results}))
PY
}
