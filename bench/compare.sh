#!/usr/bin/env bash
# mpsv-idp against node oidc-provider 9, side by side in ONE run on the same machine, the same
# load generator and the same pinning: each server alone on core 0 (mpsv-idp with
# MPSV_IDP_WORKERS=1, node single-threaded as it is), wrk on core 1, -t1 -c$BENCH_CONNECTIONS.
#
#   bench/compare.sh
#
# Rounds alternate between the two servers (start, fetch tokens, measure everything, stop), so
# that drift of the machine hits both alike; the best round of each is reported. Measured:
#   discovery, JWKS, client_credentials with an RS256 and an ES256 JWT access token,
#   introspection of a live token and of a revoked one (mpsv-idp: a JWT access token;
#   oidc-provider: an opaque one, the only kind its introspection answers for),
#   idle RSS after the load; and `openssl speed rsa2048` sign/s on core 0, the physical floor
#   of RS256 signing. oidc-provider runs with its in-memory adapter (no database at all, which
#   favours it); mpsv-idp with SQLite in WAL mode, as bench/run.sh.
#
# Knobs: BENCH_DURATION (10), BENCH_REPEAT (3), BENCH_CONNECTIONS (16), BENCH_PORT (28473),
# BENCH_QUIET_WAIT, BENCH_KEEP=1, BENCH_SKIP_BUILD=1. Every load run targets 127.0.0.1 only
# and is bounded in time (wrk -d).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH="$ROOT/bench"
DURATION=${BENCH_DURATION:-10}
REPEAT=${BENCH_REPEAT:-3}
CONNS=${BENCH_CONNECTIONS:-16}
PORT=${BENCH_PORT:-28473}
SERVER_CORE=0
LOAD_CORE=1
SECRET="bench-secret-0123456789abcdef0123456789abcdef"

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
[ "$(nproc)" -ge 2 ] || die "needs at least 2 cores (server on core $SERVER_CORE, load on core $LOAD_CORE)"

install_tools
command -v node >/dev/null || die "node is needed for oidc-provider"
build_binaries
log "npm ci in bench/compare (oidc-provider $(sed -n 's/.*"oidc-provider": "\(.*\)".*/\1/p' "$BENCH/compare/package.json"))"
(cd "$BENCH/compare" && npm ci --no-audit --no-fund --silent)
setup_work mpsv-idp-compare

log "registering mpsv-idp's clients"
add_client() { "$BIN" client add --secret "$SECRET" "$@" >/dev/null; }
add_client --id bench-cc-rs256 --name "bench cc RS256" --grant-type client_credentials --access-token-alg RS256
add_client --id bench-cc-es256 --name "bench cc ES256" --grant-type client_credentials --access-token-alg ES256

start_node() {
  log "starting node oidc-provider on core $SERVER_CORE"
  NODE_ENV=production taskset -c $SERVER_CORE node "$BENCH/compare/op.mjs" "$PORT" "$SECRET" \
    >>"$WORK/node.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 200); do
    curl -s -o /dev/null --max-time 1 "$BASE/jwks" && return 0
    sleep 0.05
  done
  die "oidc-provider did not start; see $WORK/node.log"
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status"; }

# A fresh client_credentials access token of client $1 from $2 (the token endpoint).
token_of() {
  curl -sf -H "Authorization: $(basic "$1")" -d grant_type=client_credentials "$2" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}
# Checks that introspecting $3 at $2 as client $1 says active=$4.
expect_active() {
  local got
  got=$(curl -sf -H "Authorization: $(basic "$1")" --data-urlencode "token=$3" "$2" |
    python3 -c 'import json, sys; print(str(json.load(sys.stdin)["active"]).lower())')
  [ "$got" = "$4" ] || die "introspection at $2 said active=$got, expected $4"
}

# Runs every measurement of one server. $1: name prefix; then its endpoints and clients.
measure() { # prefix token_url introspect_url revoke_url jwt_rs_client jwt_es_client intro_client
  local p=$1 tok=$2 intro=$3 revoke=$4 rs=$5 es=$6 ic=$7 live dead
  live=$(token_of "$ic" "$tok")
  dead=$(token_of "$ic" "$tok")
  curl -sf -o /dev/null -H "Authorization: $(basic "$ic")" --data-urlencode "token=$dead" "$revoke"
  expect_active "$ic" "$intro" "$live" true
  expect_active "$ic" "$intro" "$dead" false
  export BENCH_AUTH BENCH_TOKEN
  run_wrk "$p:discovery" "$BASE/.well-known/openid-configuration" get.lua
  run_wrk "$p:jwks" "$BASE/jwks" get.lua
  BENCH_AUTH=$(basic "$rs"); run_wrk "$p:cc_rs256" "$tok" client_credentials.lua
  BENCH_AUTH=$(basic "$es"); run_wrk "$p:cc_es256" "$tok" client_credentials.lua
  BENCH_AUTH=$(basic "$ic")
  BENCH_TOKEN=$live; run_wrk "$p:introspect_live" "$intro" introspect.lua
  BENCH_TOKEN=$dead; run_wrk "$p:introspect_revoked" "$intro" introspect.lua
  sleep 5
  RSS[$p]=$(( ${RSS[$p]:-0} > $(rss_kb) ? ${RSS[$p]:-0} : $(rss_kb) ))
}
declare -A RSS

wait_quiet
log "openssl speed -seconds 5 rsa2048 (core $SERVER_CORE)"
taskset -c $SERVER_CORE openssl speed -seconds 5 rsa2048 >"$WORK/openssl-rsa.txt" 2>/dev/null
RSA_SIGN=$(awk '/^rsa +2048 bits/ {print $(NF-1)}' "$WORK/openssl-rsa.txt")
log "RSA-2048 sign/s on core $SERVER_CORE: $RSA_SIGN"

for i in $(seq "$REPEAT"); do
  log "round $i/$REPEAT: mpsv-idp"
  start_server
  measure mpsv "$BASE/token" "$BASE/introspect" "$BASE/revoke" bench-cc-rs256 bench-cc-es256 bench-cc-es256
  stop_server
  log "round $i/$REPEAT: node oidc-provider"
  start_node
  measure node "$BASE/token" "$BASE/token/introspection" "$BASE/token/revocation" \
    bench-cc-rs256 bench-cc-es256 bench-cc-opaque
  stop_server
done

# --- report ----------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
pf() { awk -v a="$1" -v b="$2" 'BEGIN {print (a >= b) ? "PASS" : "FAIL"}'; }
MB() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
row() { # label key target
  local m=${BEST[mpsv:$2]} n=${BEST[node:$2]} r
  r=$(ratio "$m" "$n")
  printf '| %s | %s | %s | **%s×** | %s | %s | %s / %s |\n' "$1" "$(fmt "$m")" "$(fmt "$n")" "$r" \
    "${3:-reported}" "$([ -n "${3:-}" ] && pf "$r" "${3#≥ }" || echo —)" "$(lat "mpsv:$2")" "$(lat "node:$2")"
}
R_CC=$(ratio "${BEST[mpsv:cc_rs256]}" "$RSA_SIGN")
NODE_VERSION=$(node --version)
OP_VERSION=$(node -p 'require(process.argv[1]).version' "$BENCH/compare/node_modules/oidc-provider/package.json")
REPORT=$(cat <<EOF
Each server alone on core $SERVER_CORE (mpsv-idp: MPSV_IDP_WORKERS=1, SQLite WAL; node oidc-provider $OP_VERSION on Node.js $NODE_VERSION, NODE_ENV=production, in-memory adapter), wrk on core $LOAD_CORE: -t1 -c$CONNS -d${DURATION}s, rounds alternating between the servers, best of $REPEAT. Only 2xx answers count.
CPU: $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), nproc $(nproc). openssl speed rsa2048 on core $SERVER_CORE: $(fmt "${RSA_SIGN%.*}") sign/s.

| Measurement (per second) | mpsv-idp | oidc-provider | ratio | target | pass | p50 / p99 ms, mpsv-idp / oidc-provider |
|---|---|---|---|---|---|---|
$(row "GET /.well-known/openid-configuration" discovery)
$(row "GET /jwks" jwks "≥ 3")
$(row "client_credentials, RS256 JWT access token" cc_rs256)
$(row "client_credentials, ES256 JWT access token" cc_es256)
$(row "introspection of a live token (mpsv-idp: ES256 JWT; oidc-provider: opaque)" introspect_live "≥ 3")
$(row "introspection of a revoked token" introspect_revoked "≥ 3")
| client_credentials RS256 ÷ openssl RSA-2048 sign/s | **$R_CC** | $(ratio "${BEST[node:cc_rs256]}" "$RSA_SIGN") | | ≥ 0.85 | $(pf "$R_CC" 0.85) | |
| RSS after the load, 5 s idle (MiB, largest round) | $(MB "${RSS[mpsv]}") | $(MB "${RSS[node]}") | | | | |
EOF
)
mkdir -p "$BENCH/results"
STAMP=$(date +%Y%m%d-%H%M%S)
printf '%s\n' "$REPORT" | tee "$BENCH/results/compare-$STAMP.md"
cp "$WORK/wrk.log" "$BENCH/results/compare-$STAMP-wrk.log"
log "saved bench/results/compare-$STAMP.md"
