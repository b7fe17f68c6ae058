#!/usr/bin/env bash
# What DPoP (RFC 9449) costs on ONE core: client_credentials grants and userinfo calls, each
# plain (bearer) and with a DPoP proof, measured in one run on one server.
#
#   bench/dpop.sh
#
# Server pinned to core 0 (MPSV_IDP_WORKERS=1), wrk to core 1, fresh SQLite database, default
# settings (DPoP nonces on). Every DPoP request carries its own proof (one jti each, so each is
# checked in full and recorded in the replay table): bench/seed's `dpop-proofs` mints them on
# core 1 just before each run, with the server's current nonce and, for userinfo, the
# access token's `ath`. ES256 proof key, ES256 access tokens. Best of BENCH_REPEAT runs.
#
# Knobs: BENCH_DURATION (10), BENCH_REPEAT (3), BENCH_CONNECTIONS (32), BENCH_PORT (28474),
# BENCH_DPOP_PROOFS proofs minted per run (150000), BENCH_QUIET_WAIT, BENCH_KEEP=1,
# BENCH_SKIP_BUILD=1.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH="$ROOT/bench"
DURATION=${BENCH_DURATION:-10}
REPEAT=${BENCH_REPEAT:-3}
CONNS=${BENCH_CONNECTIONS:-32}
PORT=${BENCH_PORT:-28474}
COUNT=${BENCH_DPOP_PROOFS:-150000}
SERVER_CORE=0
LOAD_CORE=1
SECRET="bench-secret-0123456789abcdef0123456789abcdef"

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
[ "$(nproc)" -ge 2 ] || die "needs at least 2 cores"
install_tools
build_binaries

setup_work mpsv-idp-dpop

log "registering clients, seeding two refresh tokens"
"$BIN" migrate >/dev/null
add_client() { "$BIN" client add --secret "$SECRET" "$@" >/dev/null; }
add_client --id bench-cc --name "bench cc" --grant-type client_credentials --access-token-alg ES256
add_client --id bench-ui --name "bench userinfo" --grant-type refresh_token \
  --access-token-alg ES256 --id-token-alg ES256 --access-token-ttl 3600
"$SEED" "$MPSV_IDP_DATABASE_URL" bench-ui 2 "$WORK/rt.txt"
start_server

nonce() { curl -s -D - -o /dev/null -X POST -H 'DPoP: x' "$BASE/token" | awk 'tolower($1) == "dpop-nonce:" {print $2}' | tr -d '\r'; }
mint() { # file htm url [access token]
  taskset -c $LOAD_CORE "$PROOFS" "$WORK/key.jwk" "$2" "$3" "$(nonce)" "$COUNT" "$1" ${4:+"$4"}
}
field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# The person's two access tokens: one bearer, one bound to the proof key.
BEARER=$(curl -sf -H "Authorization: $(basic bench-ui)" \
  -d "grant_type=refresh_token&refresh_token=$(sed -n 1p "$WORK/rt.txt")" "$BASE/token" | field access_token)
mint "$WORK/one" POST "$BASE/token" && FIRST=$(head -n 1 "$WORK/one")
OUT=$(curl -sf -H "Authorization: $(basic bench-ui)" -H "DPoP: $FIRST" \
  -d "grant_type=refresh_token&refresh_token=$(sed -n 2p "$WORK/rt.txt")" "$BASE/token")
[ "$(echo "$OUT" | field token_type)" = DPoP ] || die "the refresh did not bind the token: $OUT"
BOUND=$(echo "$OUT" | field access_token)
# Sanity: each of the four requests answers 200.
mint "$WORK/one" GET "$BASE/userinfo" "$BOUND"
curl -sf -o /dev/null -H "Authorization: DPoP $BOUND" -H "DPoP: $(head -n 1 "$WORK/one")" "$BASE/userinfo" \
  || die "DPoP userinfo failed"
curl -sf -o /dev/null -H "Authorization: Bearer $BEARER" "$BASE/userinfo" || die "bearer userinfo failed"
log "sanity checks passed"

export BENCH_AUTH BENCH_ACCESS_TOKEN
for i in $(seq 1 "$REPEAT"); do
  log "round $i/$REPEAT"
  BENCH_AUTH=$(basic bench-cc); BENCH_ACCESS_TOKEN=""
  run_wrk cc_plain "$BASE/token" dpop.lua
  mint "$WORK/cc.proofs" POST "$BASE/token"
  run_wrk cc_dpop "$BASE/token" dpop.lua "$WORK/cc.proofs"
  BENCH_AUTH=""; BENCH_ACCESS_TOKEN=$BEARER
  run_wrk ui_plain "$BASE/userinfo" dpop.lua
  BENCH_ACCESS_TOKEN=$BOUND
  mint "$WORK/ui.proofs" GET "$BASE/userinfo" "$BOUND"
  run_wrk ui_dpop "$BASE/userinfo" dpop.lua "$WORK/ui.proofs"
done
stop_server

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
REPORT=$(cat <<REP
Server on core $SERVER_CORE (MPSV_IDP_WORKERS=1), wrk on core $LOAD_CORE: -t1 -c$CONNS -d${DURATION}s, best of $REPEAT runs; SQLite (WAL), DPoP nonces on, ES256 tokens and proofs.
CPU: $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), nproc $(nproc).

| Request | plain (bearer) | with DPoP | DPoP ÷ plain | p50 / p99 ms plain | p50 / p99 ms DPoP | server CPU / others core $SERVER_CORE / core $LOAD_CORE (DPoP) |
|---|---|---|---|---|---|---|
| POST /token client_credentials | $(fmt "${BEST[cc_plain]}")/s | $(fmt "${BEST[cc_dpop]}")/s | $(ratio "${BEST[cc_dpop]}" "${BEST[cc_plain]}") | $(lat cc_plain) | $(lat cc_dpop) | $(cpu cc_dpop) |
| GET /userinfo | $(fmt "${BEST[ui_plain]}")/s | $(fmt "${BEST[ui_dpop]}")/s | $(ratio "${BEST[ui_dpop]}" "${BEST[ui_plain]}") | $(lat ui_plain) | $(lat ui_dpop) | $(cpu ui_dpop) |
REP
)
mkdir -p "$BENCH/results"
STAMP=$(date +%Y%m%d-%H%M%S)
printf '%s\n' "$REPORT" | tee "$BENCH/results/dpop-$STAMP.md"
cp "$WORK/wrk.log" "$BENCH/results/dpop-$STAMP-wrk.log"
