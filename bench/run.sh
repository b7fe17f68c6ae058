#!/usr/bin/env bash
# Throughput, memory and start-up benchmark of mpsv-idp on ONE core.
#
#   bench/run.sh
#
# Builds the release binary and the seeding tool, sets up a temporary folder with a fresh
# SQLite database and fresh keys, then measures with the server pinned to core 0
# (MPSV_IDP_WORKERS=1) and the load generator (wrk) pinned to core 1:
#   1. client_credentials grants/s, RS256 access token, against `openssl speed rsa2048` sign/s
#      on the same core in the same run;
#   2. client_credentials grants/s, ES256 access token;
#   3. refresh_token grants/s on SQLite, ES256 and RS256 (access token + ID token);
#   4. discovery and JWKS requests/s;
#   5. idle RSS and start-to-first-answer time.
# Prints a markdown table (also saved under bench/results/, which git ignores).
#
# Every load run targets 127.0.0.1 only and is bounded in time (wrk -d). Knobs (environment):
#   BENCH_DURATION      seconds per wrk run (default 10)
#   BENCH_REPEAT        runs per measurement, the best is reported (default 3)
#   BENCH_CONNECTIONS   concurrent HTTP connections of wrk (default 32)
#   BENCH_PORT          server port on 127.0.0.1 (default 28473)
#   BENCH_RT_ES_TOKENS  refresh tokens seeded for the ES256 refresh runs (default 120000)
#   BENCH_RT_RS_TOKENS  refresh tokens seeded for the RS256 refresh runs (default 45000)
#   BENCH_RT_ES1_TOKENS refresh tokens for the extra ES256 run with one DB connection (40000)
#   BENCH_QUIET_WAIT    before each measurement, wait up to this many seconds for both cores
#                       to be idle (default 300)
#   BENCH_IDLE_WAIT     seconds the load server idles before the idle-RSS reading (default 95)
#   BENCH_KEEP=1        keep the temporary folder (database, keys, server log)
#   BENCH_SKIP_BUILD=1  use the binaries already built
#   BENCH_DATABASE_URL  an empty PostgreSQL database to measure instead of SQLite
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH="$ROOT/bench"
DURATION=${BENCH_DURATION:-10}
REPEAT=${BENCH_REPEAT:-3}
CONNS=${BENCH_CONNECTIONS:-32}
PORT=${BENCH_PORT:-28473}
RT_ES_TOKENS=${BENCH_RT_ES_TOKENS:-120000}
RT_RS_TOKENS=${BENCH_RT_RS_TOKENS:-45000}
RT_ES1_TOKENS=${BENCH_RT_ES1_TOKENS:-40000}
SERVER_CORE=0
LOAD_CORE=1
SECRET="bench-secret-0123456789abcdef0123456789abcdef"

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

[ "$(nproc)" -ge 2 ] || die "needs at least 2 cores (server on core $SERVER_CORE, load on core $LOAD_CORE)"

# --- tools and build ---------------------------------------------------------------------------
install_tools
build_binaries

# --- temporary setup -------------------------------------------------------------------------
setup_work mpsv-idp-bench

# --- 5. start-up time and idle memory ----------------------------------------------------------
# The first start creates the database and generates the keys (RSA-2048 generation dominates);
# reported for information. The target applies to an ordinary (re)start with existing keys.
wait_quiet
log "cold start (fresh database, key generation)"
COLD=$(taskset -c $LOAD_CORE python3 "$BENCH/startup.py" --bin "$BIN" --port "$PORT" \
  --core $SERVER_CORE --runs 1 --idle 0.5 --log "$SERVER_LOG")
echo "$COLD" >&2

# --- clients and refresh tokens --------------------------------------------------------------
log "registering clients"
add_client() { "$BIN" client add --secret "$SECRET" "$@" >/dev/null; }
add_client --id bench-cc-rs256 --name "bench cc RS256" --grant-type client_credentials --access-token-alg RS256
add_client --id bench-cc-es256 --name "bench cc ES256" --grant-type client_credentials --access-token-alg ES256
add_client --id bench-rt-es256 --name "bench rt ES256" --grant-type refresh_token \
  --access-token-alg ES256 --id-token-alg ES256
add_client --id bench-rt-rs256 --name "bench rt RS256" --grant-type refresh_token \
  --access-token-alg RS256 --id-token-alg RS256

log "seeding $RT_ES_TOKENS + $RT_RS_TOKENS + $RT_ES1_TOKENS refresh tokens (account, session, family each)"
"$SEED" "$MPSV_IDP_DATABASE_URL" bench-rt-es256 "$RT_ES_TOKENS" "$WORK/rt-es256.txt"
"$SEED" "$MPSV_IDP_DATABASE_URL" bench-rt-rs256 "$RT_RS_TOKENS" "$WORK/rt-rs256.txt"
"$SEED" "$MPSV_IDP_DATABASE_URL" bench-rt-es256 "$RT_ES1_TOKENS" "$WORK/rt-es256-1conn.txt"
# One token of each kind for the sanity check; the rest split evenly between the runs.
for kind in es256 rs256; do
  head -n 1 "$WORK/rt-$kind.txt" >"$WORK/rt-$kind.check"
  tail -n +2 "$WORK/rt-$kind.txt" >"$WORK/rt-$kind.rest"
  per_run=$(( ($(wc -l <"$WORK/rt-$kind.rest") + REPEAT - 1) / REPEAT ))
  split -l "$per_run" -d -a 2 "$WORK/rt-$kind.rest" "$WORK/rt-$kind.run."
done

wait_quiet
log "warm starts (existing database and keys) x5"
WARM=$(taskset -c $LOAD_CORE python3 "$BENCH/startup.py" --bin "$BIN" --port "$PORT" \
  --core $SERVER_CORE --runs 5 --idle 2 --log "$SERVER_LOG")
echo "$WARM" >&2

# --- the server under load -------------------------------------------------------------------
start_server
# Idle memory once the periodic upkeep (key reload and purge of expired rows, every
# keys.reload_interval = 30 s) has run a few times over the seeded database.
IDLE_WAIT=${BENCH_IDLE_WAIT:-95}
log "idle for ${IDLE_WAIT}s (upkeep ticks over the seeded database)"
sleep "$IDLE_WAIT"
RSS_IDLE_LONG_KB=$(awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status")
DB_MB=$(du -m "$WORK/idp.db" 2>/dev/null | cut -f1 || echo "?")


# Sanity: every grant answers 200 with a token signed with the expected algorithm.
jwt_alg() { python3 -c '
import base64, json, sys
body = json.load(sys.stdin)
tok = body[sys.argv[1]]
h = tok.split(".")[0]; h += "=" * (-len(h) % 4)
print(json.loads(base64.urlsafe_b64decode(h))["alg"])' "$1"; }
check_grant() { # client expected_alg field body
  local out alg
  out=$(curl -sf -H "Authorization: $(basic "$1")" -d "$4" "$BASE/token") \
    || die "token request for $1 failed: $(curl -s -H "Authorization: $(basic "$1")" -d "$4" "$BASE/token")"
  alg=$(printf '%s' "$out" | jwt_alg "$3")
  [ "$alg" = "$2" ] || die "$1: $3 signed with $alg, expected $2"
}
check_grant bench-cc-rs256 RS256 access_token "grant_type=client_credentials"
check_grant bench-cc-es256 ES256 access_token "grant_type=client_credentials"
check_grant bench-rt-es256 ES256 id_token "grant_type=refresh_token&refresh_token=$(cat "$WORK/rt-es256.check")"
check_grant bench-rt-rs256 RS256 id_token "grant_type=refresh_token&refresh_token=$(cat "$WORK/rt-rs256.check")"
log "sanity checks passed"

# --- 1. the RSA limit of core 0, in the same run ---------------------------------------------
wait_quiet
log "openssl speed -seconds 5 rsa2048 (core $SERVER_CORE, server idle)"
taskset -c $SERVER_CORE openssl speed -seconds 5 rsa2048 >"$WORK/openssl-rsa.txt" 2>/dev/null
RSA_SIGN=$(awk '/^rsa +2048 bits/ {print $(NF-1)}' "$WORK/openssl-rsa.txt")
log "openssl speed -seconds 5 ecdsap256 (for reference)"
taskset -c $SERVER_CORE openssl speed -seconds 5 ecdsap256 >"$WORK/openssl-ec.txt" 2>/dev/null
EC_SIGN=$(awk '/ecdsa \(nistp256\)/ {print $(NF-1)}' "$WORK/openssl-ec.txt")
log "RSA-2048 sign/s: $RSA_SIGN   ECDSA P-256 sign/s: $EC_SIGN"


export BENCH_AUTH
for i in $(seq 0 $((REPEAT - 1))); do
  log "round $((i + 1))/$REPEAT"
  BENCH_AUTH=$(basic bench-cc-rs256); run_wrk cc_rs256 "$BASE/token" client_credentials.lua
  BENCH_AUTH=$(basic bench-cc-es256); run_wrk cc_es256 "$BASE/token" client_credentials.lua
  BENCH_AUTH=$(basic bench-rt-es256)
  run_wrk rt_es256 "$BASE/token" refresh_token.lua "$(printf '%s/rt-es256.run.%02d' "$WORK" "$i")"
  BENCH_AUTH=$(basic bench-rt-rs256)
  run_wrk rt_rs256 "$BASE/token" refresh_token.lua "$(printf '%s/rt-rs256.run.%02d' "$WORK" "$i")"
  run_wrk discovery "$BASE/.well-known/openid-configuration" get.lua
  run_wrk jwks "$BASE/jwks" get.lua
done
RSS_AFTER_LOAD_KB=$(awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status")

# Extra, for comparison: SQLite with one pooled connection (no write-lock contention between
# pooled connections, so no busy-timeout sleeps).
stop_server
start_server MPSV_IDP_DB_MAX_CONNECTIONS=1
BENCH_AUTH=$(basic bench-rt-es256)
run_wrk rt_es256_1conn "$BASE/token" refresh_token.lua "$WORK/rt-es256-1conn.txt"
stop_server

# --- report ----------------------------------------------------------------------------------
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
field() { grep -o "$1=[0-9.]*" | cut -d= -f2; }
START_MS=$(echo "$WARM" | field first_answer_ms | median)
START_MAX=$(echo "$WARM" | field first_answer_ms | sort -n | tail -1)
COLD_MS=$(echo "$COLD" | field first_answer_ms)
IDLE_KB=$(echo "$WARM" | field rss_kb_idle | median)
FIRST_KB=$(echo "$WARM" | field rss_kb_first | median)

pf() { awk -v ok="$1" 'BEGIN {print ok ? "PASS" : "FAIL"}'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN {print (a >= b) ? 1 : 0}'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN {print (a < b) ? 1 : 0}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

R_CC=$(ratio "${BEST[cc_rs256]}" "$RSA_SIGN")
R_RT=$(ratio "${BEST[rt_rs256]}" "$(awk -v s="$RSA_SIGN" 'BEGIN {print s / 2}')")
MB() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

REPORT=$(cat <<EOF
Server on core $SERVER_CORE (MPSV_IDP_WORKERS=1), wrk on core $LOAD_CORE: -t1 -c$CONNS -d${DURATION}s, best of $REPEAT runs; $(case $MPSV_IDP_DATABASE_URL in sqlite*) echo 'SQLite (WAL)';; *) echo 'PostgreSQL';; esac), default logging.
CPU: $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), nproc $(nproc). openssl speed rsa2048 on core $SERVER_CORE: $(fmt "${RSA_SIGN%.*}") sign/s; ecdsap256: $(fmt "${EC_SIGN%.*}") sign/s.

| Measurement | Result | Target | Pass | p50 / p99 latency (ms) | server CPU / others on core $SERVER_CORE / others on core $LOAD_CORE |
|---|---|---|---|---|---|
| client_credentials, RS256 access token | $(fmt "${BEST[cc_rs256]}") grants/s = **$R_CC** × RSA-2048 sign/s | ratio ≥ 0.75 | $(pf "$(ge "$R_CC" 0.75)") | $(lat cc_rs256) | $(cpu cc_rs256) |
| client_credentials, ES256 access token | **$(fmt "${BEST[cc_es256]}")** grants/s | ≥ 10,000/s | $(pf "$(ge "${BEST[cc_es256]}" 10000)") | $(lat cc_es256) | $(cpu cc_es256) |
| refresh_token, ES256 (access + ID token), SQLite | **$(fmt "${BEST[rt_es256]}")** grants/s | ≥ 1,000/s | $(pf "$(ge "${BEST[rt_es256]}" 1000)") | $(lat rt_es256) | $(cpu rt_es256) |
| refresh_token, ES256, SQLite, MPSV_IDP_DB_MAX_CONNECTIONS=1 (default 8) | $(fmt "${BEST[rt_es256_1conn]}") grants/s | for comparison | — | $(lat rt_es256_1conn) | $(cpu rt_es256_1conn) |
| refresh_token, RS256 (access + ID token), SQLite | $(fmt "${BEST[rt_rs256]}") grants/s = **$R_RT** × (RSA-2048 sign/s ÷ 2) | reported (2 signatures per grant) | — | $(lat rt_rs256) | $(cpu rt_rs256) |
| GET /.well-known/openid-configuration | **$(fmt "${BEST[discovery]}")** req/s | ≥ 20,000/s | $(pf "$(ge "${BEST[discovery]}" 20000)") | $(lat discovery) | $(cpu discovery) |
| GET /jwks | $(fmt "${BEST[jwks]}") req/s | reported | — | $(lat jwks) | $(cpu jwks) |
| idle RSS (VmRSS, 2 s after start, median of 5) | **$(MB "$IDLE_KB") MB** (at first answer $(MB "$FIRST_KB") MB; after all load $(MB "$RSS_AFTER_LOAD_KB") MB) | < 30 MB | $(pf "$(lt "$IDLE_KB" 30720)") | | |
| idle RSS after ${IDLE_WAIT} s, seeded database (${DB_MB} MB, $((RT_ES_TOKENS + RT_RS_TOKENS + RT_ES1_TOKENS)) sessions/families) | $(MB "$RSS_IDLE_LONG_KB") MB | < 30 MB (informative) | $(pf "$(lt "$RSS_IDLE_LONG_KB" 30720)") | | |
| start → first 200 from /healthz (existing keys, median of 5) | **$START_MS ms** (max $START_MAX ms; first start with key generation $COLD_MS ms) | < 200 ms | $(pf "$(lt "$START_MS" 200)") | | |
EOF
)
mkdir -p "$BENCH/results"
STAMP=$(date +%Y%m%d-%H%M%S)
printf '%s\n' "$REPORT" | tee "$BENCH/results/$STAMP.md"
cp "$WORK/wrk.log" "$BENCH/results/$STAMP-wrk.log"
log "saved bench/results/$STAMP.md"
