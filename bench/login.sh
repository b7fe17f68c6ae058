#!/usr/bin/env bash
# Login benchmark (issue 4): password logins per second on one core, next to Argon2id
# verifications per second on the same core (the floor), and client_credentials grants per
# second alone and during a burst of logins (do token requests keep flowing?).
#
# The server runs pinned to core 0 (MPSV_IDP_WORKERS=1); the load generators run on core 1.
# Each login is one POST /login with the right password for a pending login prepared over
# HTTP beforehand (GET /authorize + GET /login): Argon2id verification, session, code, audit.
#
#   bash bench/login.sh            # prints a markdown table; results also in bench/results/
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH="$ROOT/bench"
PORT=${BENCH_PORT:-28474}
DURATION=${BENCH_DURATION:-10}
LOGINS=${BENCH_LOGINS:-2500}
log() { echo "[login-bench] $*" >&2; }

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
command -v taskset >/dev/null || { apt-get update -qq && apt-get install -y -qq util-linux >/dev/null; }

log "building (release)"
(cd "$ROOT" && cargo build --release --locked --bin mpsv-idp --example argon2_rate >&2)
BIN="$ROOT/target/release/mpsv-idp"
RATE="$ROOT/target/release/examples/argon2_rate"

WORK=$(mktemp -d /tmp/mpsv-idp-login-bench.XXXXXX)
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

cat >"$WORK/config.toml" <<TOML
[limits]
login_per_minute = 1000000
pending_logins_per_address = 1000000
password_change_per_minute = 1000000
password_change_per_account_per_minute = 1000000
TOML
export MPSV_IDP_CONFIG="$WORK/config.toml"
export MPSV_IDP_BIND="127.0.0.1:$PORT"
export MPSV_IDP_ISSUER="http://127.0.0.1:$PORT"
export MPSV_IDP_DATABASE_URL="sqlite://$WORK/idp.db?mode=rwc"
export MPSV_IDP_KEY_DIR="$WORK/keys"
export MPSV_IDP_MAIL_FOLDER="$WORK/mail"
export MPSV_IDP_WORKERS=1
export METRICS_TOKEN=bench-metrics-token-0123456789abcdef
export MPSV_IDP_METRICS_TOKEN=$METRICS_TOKEN
export RUST_LOG=warn
BASE="http://127.0.0.1:$PORT"

SECRET="bench-secret-0123456789abcdef0123456789abcdef"
"$BIN" client add --id bench-login --name "Bench login" --redirect-uri http://127.0.0.1:9/cb >/dev/null
MPSV_IDP_CLIENT_SECRET=$SECRET "$BIN" client add --id bench-cc --name "Bench cc" \
  --grant-type client_credentials --access-token-alg ES256 >/dev/null
# An account as MPSV creates one: organisation, consent, account; the initial password is read
# off the credentials letter and changed at a first login once the server runs (below), so the
# measured logins are complete ones, as before.
"$BIN" organisation add --ico 27712346 --name "Bench, o. p. s." --legal-form "o. p. s." \
  --street "Lipová 1" --city Brno --postcode "602 00" --social-service-provider >/dev/null
"$BIN" consent record --given-name Test --family-name Osoba --organisation 27712346 \
  --form poskytovatel --signed 2026-01-01 --received 2026-01-02 --reference BENCH >"$WORK/consent.txt"
MPSV_ID=$(grep -o 'MP[0-9]\{9\}' "$WORK/consent.txt")
"$BIN" account create --person "$MPSV_ID" --organisation 27712346 --username bench.login \
  --letter "$WORK/letter.pdf" >/dev/null
INITIAL=$(pdftotext -layout "$WORK/letter.pdf" - | awk '/Úvodní heslo:/ {print $NF}')
PASSWORD="Benchmark-heslo-2026"

log "Argon2id verifications per second on core 0 (server not running)"
ARGON=$(taskset -c 0 "$RATE" 5)

taskset -c 0 "$BIN" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do curl -sf -o /dev/null "$BASE/healthz" && break; sleep 0.1; done

log "first login: the letter's initial password is changed"
python3 "$BENCH/first_login.py" "$BASE" bench-login http://127.0.0.1:9/cb bench.login "$INITIAL" "$PASSWORD"

log "preparing $LOGINS pending logins"
taskset -c 1 python3 "$BENCH/login_prepare.py" "$BASE" bench-login http://127.0.0.1:9/cb "$LOGINS" "$WORK/logins.txt"

logins_ok() {
  curl -s -H "Authorization: Bearer $METRICS_TOKEN" "$BASE/metrics" | awk -F' ' '/^mpsv_idp_http_requests_total\{endpoint="\/login",method="POST",status="303"\}/ {print $2}' | head -1
}
cc_wrk() { # duration → grants/s
  taskset -c 1 wrk -t1 -c8 -d"$1"s -s "$BENCH/client_credentials.lua" "$BASE/token" 2>/dev/null |
    awk '/Requests\/sec/ {print $2}'
}
export BENCH_DIR="$BENCH" BENCH_AUTH="Basic $(printf 'bench-cc:%s' "$SECRET" | base64 -w0)"

log "client_credentials alone"
CC_ALONE=$(cc_wrk 5)

log "logins for ${DURATION}s"
export LOGINS_FILE="$WORK/logins.txt" LOGIN_USER=bench.login LOGIN_PASSWORD="$PASSWORD"
BEFORE=$(logins_ok); BEFORE=${BEFORE:-0}
START=$(date +%s.%N)
taskset -c 1 wrk -t1 -c4 -d"${DURATION}s" -s "$BENCH/login.lua" "$BASE/login" >"$WORK/wrk-login.txt" 2>&1
END=$(date +%s.%N)
AFTER=$(logins_ok)
LOGIN_RATE=$(python3 -c "print(f'{($AFTER - $BEFORE) / ($END - $START):.1f}')")

log "client_credentials during a burst of logins"
taskset -c 1 wrk -t1 -c4 -d"$((DURATION + 2))s" -s "$BENCH/login.lua" "$BASE/login" >/dev/null 2>&1 &
BURST=$!
sleep 1
CC_BURST=$(cc_wrk "$DURATION")
wait $BURST || true

RATIO=$(python3 -c "print(f'{$LOGIN_RATE / $ARGON:.2f}')")
mkdir -p "$BENCH/results"
OUT="$BENCH/results/login-$(date +%Y%m%d-%H%M%S).md"
cat <<MD | tee "$OUT"
Server on core 0 (MPSV_IDP_WORKERS=1, RUST_LOG=warn), load on core 1; SQLite (WAL).

| Measurement | Result | Target |
|---|---|---|
| Argon2id verifications/s on core 0 (m=19456, t=2, p=1) | $ARGON | the floor |
| password logins/s (POST /login, right password, session + code + audit) | $LOGIN_RATE = **$RATIO** × Argon2id/s | ≥ 0.80 |
| client_credentials (ES256) grants/s alone | $CC_ALONE | — |
| client_credentials (ES256) grants/s during the login burst | $CC_BURST | keeps flowing |
MD
