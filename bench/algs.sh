#!/usr/bin/env bash
# What each signing algorithm costs on ONE core since JOSE moved to aws-lc-rs (issue 14.6):
# client_credentials grants/s with RS256, ES256 and EdDSA access tokens, next to what the same
# core signs with OpenSSL (`openssl speed`), and — with BENCH_BASELINE=<git revision> — the
# same grants served by that revision's binary (JOSE through josekit, i.e. OpenSSL), in the
# same run, rounds alternating between the two binaries.
#
#   bench/algs.sh                       # this checkout only
#   BENCH_BASELINE=11f2bf7 bench/algs.sh # and the last commit before the switch
#
# Server pinned to core 0 (MPSV_IDP_WORKERS=1), wrk to core 1 (-t1), fresh SQLite databases
# and keys (one per binary). Best of BENCH_REPEAT rounds. The baseline is built from a git
# worktree into target/bench-baseline (a second release build, several minutes).
#
# Knobs: BENCH_DURATION (10), BENCH_REPEAT (3), BENCH_CONNECTIONS (32), BENCH_PORT (28475),
# BENCH_BASELINE, BENCH_QUIET_WAIT, BENCH_KEEP=1, BENCH_SKIP_BUILD=1.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH="$ROOT/bench"
DURATION=${BENCH_DURATION:-10}
REPEAT=${BENCH_REPEAT:-3}
CONNS=${BENCH_CONNECTIONS:-32}
PORT=${BENCH_PORT:-28475}
BASELINE=${BENCH_BASELINE:-}
SERVER_CORE=0
LOAD_CORE=1
SECRET="bench-secret-0123456789abcdef0123456789abcdef"

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
[ "$(nproc)" -ge 2 ] || die "needs at least 2 cores"
install_tools
build_binaries
NEW_BIN=$BIN

BASE_BIN=""
if [ -n "$BASELINE" ]; then
  REV=$(git -C "$ROOT" rev-parse --short "$BASELINE")
  SRC="$ROOT/target/bench-baseline-src"
  if [ "${BENCH_SKIP_BUILD:-}" != 1 ]; then
    log "building the baseline $REV (git worktree in $SRC)"
    git -C "$ROOT" worktree remove --force "$SRC" 2>/dev/null || rm -rf "$SRC"
    git -C "$ROOT" worktree prune
    git -C "$ROOT" worktree add --detach "$SRC" "$REV" >/dev/null
    CARGO_TARGET_DIR="$ROOT/target/bench-baseline" \
      cargo build --release --locked --bin mpsv-idp --manifest-path "$SRC/Cargo.toml"
    git -C "$ROOT" worktree remove --force "$SRC"
  fi
  BASE_BIN="$ROOT/target/bench-baseline/release/mpsv-idp"
  [ -x "$BASE_BIN" ] || die "baseline binary missing: $BASE_BIN"
fi

setup_work mpsv-idp-algs

# One database and key folder per binary: the baseline does not know EdDSA keys.
prepare() { # name binary algs...
  local name=$1 bin=$2
  shift 2
  export MPSV_IDP_DATABASE_URL="sqlite://$WORK/$name.db?mode=rwc" MPSV_IDP_KEY_DIR="$WORK/$name-keys"
  "$bin" migrate >/dev/null
  for alg in "$@"; do
    "$bin" client add --secret "$SECRET" --id "bench-cc-$alg" --name "bench cc $alg" \
      --grant-type client_credentials --access-token-alg "$alg" >/dev/null
  done
}
use() { # name binary
  export MPSV_IDP_DATABASE_URL="sqlite://$WORK/$1.db?mode=rwc" MPSV_IDP_KEY_DIR="$WORK/$1-keys"
  BIN=$2
}
log "registering the clients"
prepare new "$NEW_BIN" RS256 ES256 EdDSA
[ -z "$BASE_BIN" ] || prepare base "$BASE_BIN" RS256 ES256

wait_quiet
log "openssl speed -seconds 5 rsa2048 ecdsap256 ed25519 (core $SERVER_CORE, nothing else running)"
taskset -c $SERVER_CORE openssl speed -seconds 5 rsa2048 ecdsap256 ed25519 >"$WORK/openssl.txt" 2>/dev/null
RSA_SIGN=$(awk '/^rsa +2048 bits/ {print $(NF-1)}' "$WORK/openssl.txt")
EC_SIGN=$(awk '/ecdsa \(nistp256\)/ {print $(NF-1)}' "$WORK/openssl.txt")
ED_SIGN=$(awk '/ bits EdDSA \(Ed25519\)/ {print $(NF-1)}' "$WORK/openssl.txt")
log "OpenSSL sign/s: RSA-2048 $RSA_SIGN, P-256 $EC_SIGN, Ed25519 $ED_SIGN"

export BENCH_AUTH BENCH_ACCESS_TOKEN=""
for i in $(seq 1 "$REPEAT"); do
  log "round $i/$REPEAT"
  use new "$NEW_BIN"
  start_server
  for alg in RS256 ES256 EdDSA; do
    BENCH_AUTH=$(basic "bench-cc-$alg")
    run_wrk "new_$alg" "$BASE/token" dpop.lua
  done
  stop_server
  if [ -n "$BASE_BIN" ]; then
    use base "$BASE_BIN"
    start_server
    for alg in RS256 ES256; do
      BENCH_AUTH=$(basic "bench-cc-$alg")
      run_wrk "base_$alg" "$BASE/token" dpop.lua
    done
    stop_server
  fi
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
row() { # alg openssl-sign-rate
  local alg=$1 ref=$2 base="—" vs="—"
  if [ -n "$BASE_BIN" ] && [ -n "${BEST[base_$alg]:-}" ]; then
    base="$(fmt "${BEST[base_$alg]}")/s ($(lat "base_$alg"))"
    vs=$(ratio "${BEST[new_$alg]}" "${BEST[base_$alg]}")
  fi
  printf '| %s | %s/s (%s) | %s | %s | %s/s | %s |\n' "$alg" "$(fmt "${BEST[new_$alg]}")" \
    "$(lat "new_$alg")" "$base" "$vs" "$(fmt "${ref%.*}")" "$(ratio "${BEST[new_$alg]}" "$ref")"
}
REPORT=$(cat <<REP
Server on core $SERVER_CORE (MPSV_IDP_WORKERS=1), wrk on core $LOAD_CORE: -t1 -c$CONNS -d${DURATION}s, best of $REPEAT rounds; SQLite (WAL), POST /token client_credentials (client_secret_basic).
This checkout: $(git -C "$ROOT" rev-parse --short HEAD) (aws-lc-rs); baseline: ${REV:-none} (josekit/OpenSSL).
CPU: $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), nproc $(nproc); $(openssl version).

| access token alg | grants/s (p50 / p99 ms), aws-lc-rs | grants/s (p50 / p99 ms), baseline | aws-lc-rs ÷ baseline | openssl speed sign/s, same core | grants ÷ openssl sign |
|---|---|---|---|---|---|
$(row RS256 "$RSA_SIGN")
$(row ES256 "$EC_SIGN")
$(row EdDSA "$ED_SIGN")
REP
)
mkdir -p "$BENCH/results"
STAMP=$(date +%Y%m%d-%H%M%S)
printf '%s\n' "$REPORT" | tee "$BENCH/results/algs-$STAMP.md"
cp "$WORK/wrk.log" "$BENCH/results/algs-$STAMP-wrk.log"
