#!/usr/bin/env bash
# Shared by bench/run.sh and bench/dpop.sh (sourced): quiet-machine wait, logging, the server
# on core SERVER_CORE, and one wrk measurement on core LOAD_CORE. Expects BENCH, BIN, BASE,
# WORK, SERVER_LOG, CONNS, DURATION, SERVER_CORE, LOAD_CORE to be set by the caller.

# Waits (at most BENCH_QUIET_WAIT seconds, default 300) until both cores are nearly idle, so
# that other work on the machine (compiles, tests) does not distort a measurement.
wait_quiet() {
  local deadline=$((SECONDS + ${BENCH_QUIET_WAIT:-300})) busy
  while :; do
    busy=$(
      { grep -E '^cpu[01] ' /proc/stat; sleep 1; grep -E '^cpu[01] ' /proc/stat; } |
        awk '{b = $2+$3+$4+$7+$8+$9; t = b+$5+$6; if ($1 in B) {d = (b-B[$1])/(t-T[$1])*100; if (d > m) m = d} else {B[$1] = b; T[$1] = t}}
             END {printf "%.0f", m}'
    )
    [ "$busy" -le 10 ] && return 0
    if [ $SECONDS -ge $deadline ]; then
      log "WARNING: the machine is still busy (${busy}% of a core); measuring anyway"
      return 0
    fi
    log "waiting for other work to finish (busiest core ${busy}%)"
    sleep 5
  done
}
log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

start_server() { # extra environment, e.g. MPSV_IDP_DB_MAX_CONNECTIONS=1
  log "starting the server on core $SERVER_CORE $*"
  env "$@" taskset -c $SERVER_CORE "$BIN" serve >>"$SERVER_LOG" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 200); do
    curl -s -o /dev/null --max-time 1 "$BASE/healthz" && break
    sleep 0.05
  done
  curl -sf -o /dev/null "$BASE/readyz" || die "server not ready; see $SERVER_LOG"
}
stop_server() {
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
}

# --- load runs -------------------------------------------------------------------------------
# Each run: wrk on core 1 for DURATION seconds; the rate counts 2xx answers only. Also records
# how much CPU the server got and how much of core 0 other processes took (noise).
proc_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }
cpu_busy() { awk -v c="cpu$1" '$1 == c {print $2+$3+$4+$7+$8+$9}' /proc/stat; }
declare -A BEST BEST_LINE
TIMEFORMAT='%U %S'
run_wrk() { # name url script [tokens-file]
  local name=$1 url=$2 script=$3 tokens=${4:-} out t0 b0 c0 t1 b1 c1 line wrk_cpu
  export BENCH_TOKENS="$tokens"
  wait_quiet
  t0=$(proc_ticks); b0=$(cpu_busy $SERVER_CORE); c0=$(cpu_busy $LOAD_CORE)
  { time taskset -c $LOAD_CORE wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 10s \
      -s "$BENCH/$script" "$url" >"$WORK/wrk.out"; } 2>"$WORK/wrk.time"
  t1=$(proc_ticks); b1=$(cpu_busy $SERVER_CORE); c1=$(cpu_busy $LOAD_CORE)
  out=$(cat "$WORK/wrk.out"); wrk_cpu=$(awk '{print ($1 + $2) * 100}' "$WORK/wrk.time")
  printf '== %s\n%s\n' "$name" "$out" >>"$WORK/wrk.log"
  line=$(echo "$out" | grep '^BENCH ') || die "$name: no summary from wrk: $out"
  eval "$(echo "$line" | sed 's/^BENCH //')" # requests non2xx sockerr duration_us p50_us p99_us
  local ok=$((requests - non2xx))
  local rate=$(awk -v ok="$ok" -v d="$duration_us" 'BEGIN {printf "%.0f", ok / (d / 1e6)}')
  # Shares of one core over the run: the server's CPU time, and what other processes took on
  # the server's core and on the load generator's core (noise from other work on the machine).
  local share='function s(t) {v = t / 100 / (d / 1e6) * 100; return v < 0 ? 0 : v}'
  local srv=$(awk -v a="$t0" -v b="$t1" -v d="$duration_us" "$share"' BEGIN {printf "%.0f", s(b - a)}')
  local other0=$(awk -v a="$t0" -v b="$t1" -v x="$b0" -v y="$b1" -v d="$duration_us" \
    "$share"' BEGIN {printf "%.0f", s((y - x) - (b - a))}')
  local other1=$(awk -v x="$c0" -v y="$c1" -v w="$wrk_cpu" -v d="$duration_us" \
    "$share"' BEGIN {printf "%.0f", s((y - x) - w)}')
  log "$name: $rate/s ok=$ok non2xx=$non2xx sockerr=$sockerr p50=${p50_us}us p99=${p99_us}us server_cpu=${srv}% others_core0=${other0}% others_core1=${other1}%"
  [ "$non2xx" -eq 0 ] || log "WARNING $name: $non2xx answers were not 2xx (see $WORK/wrk.log)"
  if [ -z "${BEST[$name]:-}" ] || [ "$rate" -gt "${BEST[$name]}" ]; then
    BEST[$name]=$rate
    BEST_LINE[$name]="$p50_us $p99_us $srv $other0 $other1 $non2xx"
  fi
}

# The Authorization header of client $1 with the bench secret.
basic() { printf 'Basic %s' "$(printf '%s:%s' "$1" "$SECRET" | base64 -w0)"; }

# Report helpers: a number with thousands separators; p50 / p99 and CPU shares of a best run.
fmt() { printf "%'d" "$1" 2>/dev/null || printf "%d" "$1"; }
lat() { set -- ${BEST_LINE[$1]}; awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f / %.2f", a / 1000, b / 1000}'; }
cpu() { set -- ${BEST_LINE[$1]}; printf '%s%% / %s%% / %s%%' "$3" "$4" "$5"; }

# wrk, openssl, curl, taskset and python3, with apt-get if missing.
install_tools() {
  local need_apt=()
  command -v wrk >/dev/null || need_apt+=(wrk)
  command -v openssl >/dev/null || need_apt+=(openssl)
  command -v curl >/dev/null || need_apt+=(curl)
  command -v taskset >/dev/null || need_apt+=(util-linux)
  command -v python3 >/dev/null || need_apt+=(python3)
  if [ ${#need_apt[@]} -gt 0 ]; then
    log "installing with apt-get: ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  fi
}

# The release binary and bench/seed (unless BENCH_SKIP_BUILD=1); sets BIN, SEED and PROOFS.
build_binaries() {
  if [ "${BENCH_SKIP_BUILD:-}" != 1 ]; then
    log "cargo build --release"
    (cd "$ROOT" && cargo build --release)
    log "building bench/seed (shares target/ and Cargo.lock with the main crate)"
    cp "$ROOT/Cargo.lock" "$BENCH/seed/Cargo.lock"
    CARGO_TARGET_DIR="$ROOT/target" cargo build --release --manifest-path "$BENCH/seed/Cargo.toml"
  fi
  BIN="${BENCH_BIN:-$ROOT/target/release/mpsv-idp}" # BENCH_BIN: another build, for a before/after
  SEED="$ROOT/target/release/mpsv-idp-bench-seed"
  PROOFS="$ROOT/target/release/dpop-proofs"
  [ -x "$BIN" ] && [ -x "$SEED" ] && [ -x "$PROOFS" ] || die "binaries missing (build first)"
}

# A fresh folder under /tmp (removed at exit unless BENCH_KEEP=1, the server stopped), and the
# server's settings: SQLite in it (or BENCH_DATABASE_URL), fresh keys, one worker, 127.0.0.1:$PORT. Sets WORK, BASE,
# SERVER_LOG.
setup_work() { # name prefix
  WORK=$(mktemp -d "/tmp/$1.XXXXXX")
  SERVER_PID=""
  trap cleanup EXIT
  export MPSV_IDP_BIND="127.0.0.1:$PORT"
  export MPSV_IDP_ISSUER="http://127.0.0.1:$PORT"
  # BENCH_DATABASE_URL: an empty PostgreSQL database instead of SQLite (bench/run.sh).
  export MPSV_IDP_DATABASE_URL="${BENCH_DATABASE_URL:-sqlite://$WORK/idp.db?mode=rwc}"
  export MPSV_IDP_KEY_DIR="$WORK/keys"
  export MPSV_IDP_WORKERS=1
  export BENCH_DIR="$BENCH"
  BASE="http://127.0.0.1:$PORT"
  SERVER_LOG="$WORK/server.log"
  if curl -s -o /dev/null --max-time 1 "$BASE/healthz"; then
    die "something already answers on $BASE; set BENCH_PORT"
  fi
}

cleanup() {
  if [ -n "${SERVER_PID:-}" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [ "${BENCH_KEEP:-}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
