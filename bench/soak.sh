#!/usr/bin/env bash
# Memory under a long mixed load: the server on core 0 (MPSV_IDP_WORKERS=1), wrk on core 1
# with bench/mixed.lua (client_credentials, introspection, refresh rotation, discovery, JWKS in
# turn) for BENCH_SOAK_SECONDS (default 600), VmRSS sampled every 10 s. Prints the samples, the
# least-squares slope of RSS over the second half (after warm-up) and the idle RSS after the
# load and two upkeep rounds.
#
#   bench/soak.sh
#
# Knobs: BENCH_SOAK_SECONDS, BENCH_CONNECTIONS (16), BENCH_PORT, BENCH_DATABASE_URL,
# BENCH_KEEP=1, BENCH_SKIP_BUILD=1. Targets 127.0.0.1 only; wrk stops by itself (-d).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH="$ROOT/bench"
CONNS=${BENCH_CONNECTIONS:-16}
PORT=${BENCH_PORT:-28473}
SOAK=${BENCH_SOAK_SECONDS:-600}
DURATION=$SOAK
SERVER_CORE=0
LOAD_CORE=1
SECRET="bench-secret-0123456789abcdef0123456789abcdef"
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
install_tools
build_binaries
setup_work mpsv-idp-soak

add_client() { "$BIN" client add --secret "$SECRET" "$@" >/dev/null; }
add_client --id bench-cc-es256 --name "bench cc ES256" --grant-type client_credentials --access-token-alg ES256
add_client --id bench-rt-es256 --name "bench rt ES256" --grant-type refresh_token \
  --access-token-alg ES256 --id-token-alg ES256
log "seeding 2,000 refresh-token chains"
"$SEED" "$MPSV_IDP_DATABASE_URL" bench-rt-es256 2000 "$WORK/chains.txt"

start_server
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status"; }
export BENCH_CC_AUTH BENCH_RT_AUTH BENCH_TOKEN BENCH_TOKENS="$WORK/chains.txt"
BENCH_CC_AUTH=$(basic bench-cc-es256)
BENCH_RT_AUTH=$(basic bench-rt-es256)
BENCH_TOKEN=$(curl -sf -H "Authorization: $BENCH_CC_AUTH" -d grant_type=client_credentials "$BASE/token" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
RSS0=$(rss_kb)
log "soak: ${SOAK}s of mixed load, RSS at start ${RSS0} kB"
: >"$WORK/rss.txt"
( for ((t = 0; t <= SOAK; t += 10)); do echo "$t $(rss_kb)" >>"$WORK/rss.txt"; sleep 10; done ) &
SAMPLER=$!
run_wrk mixed "$BASE" mixed.lua "$WORK/chains.txt"
wait "$SAMPLER" 2>/dev/null || true
log "idle 65 s (two upkeep rounds)"
sleep 65
RSS_IDLE=$(rss_kb)
stop_server

SLOPE=$(awk -v half="$((SOAK / 2))" '$1 >= half {n++; sx += $1; sy += $2; sxx += $1*$1; sxy += $1*$2}
  END {if (n > 1) printf "%.2f", (n*sxy - sx*sy) / (n*sxx - sx*sx) * 60; else print "n/a"}' "$WORK/rss.txt")
MIN=$(awk 'NR == 1 || $2 < m {m = $2} END {print m}' "$WORK/rss.txt")
MAX=$(awk '$2 > m {m = $2} END {print m}' "$WORK/rss.txt")
REPORT=$(cat <<EOF
Soak: ${SOAK} s of bench/mixed.lua (wrk -t1 -c$CONNS on core $LOAD_CORE; server on core $SERVER_CORE, MPSV_IDP_WORKERS=1), $(fmt "${BEST[mixed]}") req/s (p50 / p99 $(lat mixed) ms, $(cpu mixed) CPU).
RSS at start $(awk -v k="$RSS0" 'BEGIN {printf "%.1f", k/1024}') MiB; during the load $(awk -v k="$MIN" 'BEGIN {printf "%.1f", k/1024}')–$(awk -v k="$MAX" 'BEGIN {printf "%.1f", k/1024}') MiB; slope over the second half **${SLOPE} kB/min**; idle after the load and two upkeeps $(awk -v k="$RSS_IDLE" 'BEGIN {printf "%.1f", k/1024}') MiB.
Samples (s, kB): $(tr '\n' ' ' <"$WORK/rss.txt")
EOF
)
mkdir -p "$BENCH/results"
STAMP=$(date +%Y%m%d-%H%M%S)
printf '%s\n' "$REPORT" | tee "$BENCH/results/soak-$STAMP.md"
