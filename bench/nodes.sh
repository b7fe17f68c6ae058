#!/usr/bin/env bash
# One node against two nodes of mpsv-idp on one PostgreSQL, and the latency of token grants
# while a node is killed (SIGKILL) and restarted behind a load balancer (issue 12).
#
#   bench/nodes.sh
#
# Starts a private PostgreSQL cluster in a temporary folder, registers the benchmark clients,
# seeds refresh tokens (bench/seed), and runs the release binary with the keys in the
# database (MPSV_IDP_KEK). Each node is pinned to one core with MPSV_IDP_WORKERS=1:
#   1. one node on core 0; wrk and PostgreSQL on core 1;
#   2. two nodes, on cores 0 and 1; two wrk processes (half the connections each, one per
#      node) and PostgreSQL share both cores — on a 2-core machine there is no third core, so
#      the load generator and the database take from the nodes: the ratio understates what a
#      second machine would give. The server CPU per 1,000 grants is reported beside it.
#   3. HAProxy (Debian's) in front of both nodes, health-checking /readyz every 500 ms and
#      retrying a request whose connection failed on the other node; wrk runs through it for
#      BENCH_KILL_DURATION seconds twice: undisturbed, and with node A killed with SIGKILL at a
#      third of the run and started again at a half.
# Every load targets 127.0.0.1 and is bounded in time (wrk -d). Knobs (environment):
#   BENCH_DURATION (10), BENCH_REPEAT (2), BENCH_CONNECTIONS (32), BENCH_KILL_DURATION (30),
#   BENCH_RT_TOKENS (refresh tokens per run and node; 40000), BENCH_SKIP_BUILD=1, BENCH_KEEP=1.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH="$ROOT/bench"
DURATION=${BENCH_DURATION:-10}
REPEAT=${BENCH_REPEAT:-2}
CONNS=${BENCH_CONNECTIONS:-32}
KILL_DURATION=${BENCH_KILL_DURATION:-30}
RT_TOKENS=${BENCH_RT_TOKENS:-40000}
PORT_A=28481
PORT_B=28482
PORT_LB=28480
PORT_PG=28483
SECRET="bench-secret-0123456789abcdef0123456789abcdef"

log() { printf '[nodes %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
[ "$(nproc)" -ge 2 ] || die "needs 2 cores"

need_apt=()
for tool in wrk curl taskset haproxy python3; do
  command -v $tool >/dev/null || need_apt+=("$([ $tool = taskset ] && echo util-linux || echo $tool)")
done
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing with apt-get: ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
# Debian starts the packaged HAProxy; this script runs its own.
systemctl disable --now haproxy >/dev/null 2>&1 || true

if [ "${BENCH_SKIP_BUILD:-}" != 1 ]; then
  log "cargo build --release (binary and bench/seed)"
  (cd "$ROOT" && cargo build --release)
  cp "$ROOT/Cargo.lock" "$BENCH/seed/Cargo.lock"
  CARGO_TARGET_DIR="$ROOT/target" cargo build --release --manifest-path "$BENCH/seed/Cargo.toml"
fi
BIN="$ROOT/target/release/mpsv-idp"
SEED="$ROOT/target/release/mpsv-idp-bench-seed"
[ -x "$BIN" ] && [ -x "$SEED" ] || die "binaries missing (build first)"

WORK=$(mktemp -d /tmp/mpsv-idp-nodes.XXXXXX)
chmod 755 "$WORK"
declare -A PIDS=()
LB_PID=""
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
RUN_PG=()
[ "$(id -u)" = 0 ] && RUN_PG=(runuser -u postgres --)
cleanup() {
  for p in "${PIDS[@]}" $LB_PID; do kill "$p" 2>/dev/null || true; done
  "${RUN_PG[@]}" "$PGBIN/pg_ctl" -D "$WORK/pg" -m fast stop >/dev/null 2>&1 || true
  if [ "${BENCH_KEEP:-}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# --- PostgreSQL --------------------------------------------------------------------------------
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home "$WORK" postgres
  mkdir -p "$WORK/pg"; chown postgres "$WORK/pg"
fi
"${RUN_PG[@]}" "$PGBIN/initdb" -D "$WORK/pg" -A trust -U postgres >/dev/null
"${RUN_PG[@]}" "$PGBIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg/log" -w \
  -o "-p $PORT_PG -k $WORK/pg -c listen_addresses=127.0.0.1 -c max_connections=100" start >/dev/null
PG_PID=$(head -1 "$WORK/pg/postmaster.pid")

export MPSV_IDP_ISSUER="http://127.0.0.1:$PORT_LB"
export MPSV_IDP_DATABASE_URL="postgres://postgres@127.0.0.1:$PORT_PG/postgres"
MPSV_IDP_KEK=$("$BIN" keys generate-kek)
export MPSV_IDP_KEK
export MPSV_IDP_KEY_DIR="$WORK/unused-keys"
export MPSV_IDP_WORKERS=1
export MPSV_IDP_MAIL_FOLDER="$WORK/mail"
export BENCH_DIR="$BENCH"

log "registering clients, seeding $((RT_TOKENS * (REPEAT * 3))) refresh tokens"
"$BIN" migrate >/dev/null
"$BIN" client add --secret "$SECRET" --id bench-cc-es256 --name "bench cc ES256" \
  --grant-type client_credentials --access-token-alg ES256 >/dev/null
"$BIN" client add --secret "$SECRET" --id bench-rt-es256 --name "bench rt ES256" \
  --grant-type refresh_token --access-token-alg ES256 --id-token-alg ES256 >/dev/null
# Per round: one file for the one-node run, two (one per node) for the two-node run.
for i in $(seq 0 $((REPEAT - 1))); do
  for part in one a b; do
    "$SEED" "$MPSV_IDP_DATABASE_URL" bench-rt-es256 "$RT_TOKENS" "$WORK/rt-$i-$part.txt" >/dev/null
  done
done

start_node() { # name port core
  env MPSV_IDP_BIND="127.0.0.1:$2" taskset -c "$3" "$BIN" serve >>"$WORK/node-$1.log" 2>&1 &
  PIDS[$1]=$!
  for _ in $(seq 300); do
    curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$2/readyz" && return 0
    sleep 0.05
  done
  die "node $1 not ready; see $WORK/node-$1.log"
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
basic() { printf 'Basic %s' "$(printf '%s:%s' "$1" "$SECRET" | base64 -w0)"; }

# wrk on `cores` against `url`; prints "ok duration_us p50_us p99_us non2xx sockerr".
wrk_run() { # cores conns duration script url [tokens]
  export BENCH_TOKENS="${6:-}"
  local line
  line=$(taskset -c "$1" wrk -t1 -c"$2" -d"${3}s" --timeout 10s -s "$BENCH/$4" "$5" | grep '^BENCH ') \
    || die "no summary from wrk"
  eval "$(echo "$line" | sed 's/^BENCH //')"
  echo "$((requests - non2xx)) $duration_us $p50_us $p99_us $non2xx $sockerr"
}

declare -A RESULT
measure_one() { # name script tokens-prefix
  local best=0 i out ok d p50 p99 bad sock t0 t1 rate cpu
  for i in $(seq 0 $((REPEAT - 1))); do
    t0=$(ticks "${PIDS[a]}")
    out=$(wrk_run 1 "$CONNS" "$DURATION" "$2" "http://127.0.0.1:$PORT_A/token" \
      "${3:+$WORK/rt-$i-one.txt}")
    t1=$(ticks "${PIDS[a]}")
    read -r ok d p50 p99 bad sock <<<"$out"
    rate=$(awk -v o="$ok" -v d="$d" 'BEGIN {printf "%.0f", o / (d / 1e6)}')
    cpu=$(awk -v t=$((t1 - t0)) -v o="$ok" 'BEGIN {printf "%.1f", t / 100 / o * 1000}')
    log "$1 one node, round $((i + 1)): $rate/s p50=${p50}us p99=${p99}us non2xx=$bad sockerr=$sock cpu_s_per_1000=$cpu"
    if [ "$rate" -gt "$best" ]; then best=$rate; RESULT[$1_1]="$rate $p50 $p99 $cpu $bad"; fi
  done
}
measure_two() { # name script tokens?
  local best=0 i oa ob a_ok a_d a_p50 a_p99 a_bad a_sock b_ok b_d b_p50 b_p99 b_bad b_sock
  local ta0 tb0 ta1 tb1 rate cpu
  for i in $(seq 0 $((REPEAT - 1))); do
    ta0=$(ticks "${PIDS[a]}"); tb0=$(ticks "${PIDS[b]}")
    wrk_run 0,1 $((CONNS / 2)) "$DURATION" "$2" "http://127.0.0.1:$PORT_A/token" \
      "${3:+$WORK/rt-$i-a.txt}" >"$WORK/wa" &
    local wa=$!
    wrk_run 0,1 $((CONNS / 2)) "$DURATION" "$2" "http://127.0.0.1:$PORT_B/token" \
      "${3:+$WORK/rt-$i-b.txt}" >"$WORK/wb"
    wait $wa
    ta1=$(ticks "${PIDS[a]}"); tb1=$(ticks "${PIDS[b]}")
    read -r a_ok a_d a_p50 a_p99 a_bad a_sock <"$WORK/wa"
    read -r b_ok b_d b_p50 b_p99 b_bad b_sock <"$WORK/wb"
    rate=$(awk -v a="$a_ok" -v ad="$a_d" -v b="$b_ok" -v bd="$b_d" \
      'BEGIN {printf "%.0f", a / (ad / 1e6) + b / (bd / 1e6)}')
    cpu=$(awk -v t=$((ta1 - ta0 + tb1 - tb0)) -v o=$((a_ok + b_ok)) 'BEGIN {printf "%.1f", t / 100 / o * 1000}')
    local p50=$(( a_p50 > b_p50 ? a_p50 : b_p50 )) p99=$(( a_p99 > b_p99 ? a_p99 : b_p99 ))
    log "$1 two nodes, round $((i + 1)): $rate/s (A $a_ok, B $b_ok) p50=${p50}us p99=${p99}us non2xx=$((a_bad + b_bad)) cpu_s_per_1000=$cpu"
    if [ "$rate" -gt "$best" ]; then best=$rate; RESULT[$1_2]="$rate $p50 $p99 $cpu $((a_bad + b_bad))"; fi
  done
}

# --- 1. one node ---------------------------------------------------------------------------------
taskset -pc 1 "$PG_PID" >/dev/null
for p in $(pgrep -P "$PG_PID"); do taskset -pc 1 "$p" >/dev/null; done
start_node a $PORT_A 0
export BENCH_AUTH
BENCH_AUTH=$(basic bench-cc-es256); measure_one cc_es256 client_credentials.lua
BENCH_AUTH=$(basic bench-rt-es256); measure_one rt_es256 refresh_token.lua tokens

# --- 2. two nodes --------------------------------------------------------------------------------
taskset -pc 0,1 "$PG_PID" >/dev/null
for p in $(pgrep -P "$PG_PID"); do taskset -pc 0,1 "$p" >/dev/null; done
start_node b $PORT_B 1
BENCH_AUTH=$(basic bench-cc-es256); measure_two cc_es256 client_credentials.lua
BENCH_AUTH=$(basic bench-rt-es256); measure_two rt_es256 refresh_token.lua tokens

# --- 3. a node killed and restarted behind HAProxy -------------------------------------------------
cat >"$WORK/haproxy.cfg" <<EOF
global
    maxconn 1000
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 10s
    retries 2
    option redispatch 1
    retry-on conn-failure empty-response response-timeout
frontend idp
    bind 127.0.0.1:$PORT_LB
    default_backend nodes
backend nodes
    balance roundrobin
    option httpchk GET /readyz
    default-server inter 500ms fall 1 rise 2
    server a 127.0.0.1:$PORT_A check
    server b 127.0.0.1:$PORT_B check
EOF
haproxy -f "$WORK/haproxy.cfg" -db >"$WORK/haproxy.log" 2>&1 &
LB_PID=$!
sleep 2
BENCH_AUTH=$(basic bench-cc-es256)
LB="http://127.0.0.1:$PORT_LB/token"
read -r s_ok s_d s_p50 s_p99 s_bad s_sock <<<"$(wrk_run 0,1 "$CONNS" "$KILL_DURATION" client_credentials.lua "$LB")"
log "through HAProxy, undisturbed: ok=$s_ok p50=${s_p50}us p99=${s_p99}us non2xx=$s_bad sockerr=$s_sock"
wrk_run 0,1 "$CONNS" "$KILL_DURATION" client_credentials.lua "$LB" >"$WORK/wk" &
WK=$!
sleep $((KILL_DURATION / 3))
log "kill -9 node A"
kill -9 "${PIDS[a]}"; wait "${PIDS[a]}" 2>/dev/null || true
sleep $((KILL_DURATION / 2 - KILL_DURATION / 3))
log "starting node A again"
T_RESTART=$(date +%s%N)
start_node a $PORT_A 0
RESTART_MS=$(( ($(date +%s%N) - T_RESTART) / 1000000 ))
wait $WK
read -r k_ok k_d k_p50 k_p99 k_bad k_sock <"$WORK/wk"
log "through HAProxy, node A killed and restarted: ok=$k_ok p50=${k_p50}us p99=${k_p99}us non2xx=$k_bad sockerr=$k_sock (A ready ${RESTART_MS} ms after exec)"

# --- report --------------------------------------------------------------------------------------
row() { # name label
  read -r r1 p501 p991 c1 b1 <<<"${RESULT[$1_1]}"
  read -r r2 p502 p992 c2 b2 <<<"${RESULT[$1_2]}"
  printf '| %s | %s/s | %s/s | **%s** | %.2f / %.2f | %.2f / %.2f | %s / %s | %s / %s |\n' "$2" "$r1" "$r2" \
    "$(awk -v a="$r2" -v b="$r1" 'BEGIN {printf "%.2f", a / b}')" \
    "$(awk -v v="$p501" 'BEGIN {print v / 1000}')" "$(awk -v v="$p991" 'BEGIN {print v / 1000}')" \
    "$(awk -v v="$p502" 'BEGIN {print v / 1000}')" "$(awk -v v="$p992" 'BEGIN {print v / 1000}')" \
    "$c1" "$c2" "$b1" "$b2"
}
ms() { awk -v v="$1" 'BEGIN {printf "%.2f", v / 1000}'; }
REPORT=$(cat <<EOF
PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}'), nodes with MPSV_IDP_WORKERS=1 and keys in the database; wrk -t1, $CONNS connections in all, ${DURATION} s, best of $REPEAT.

| grant | one node | two nodes | two ÷ one | p50 / p99 one node (ms) | p50 / p99 two nodes (ms) | server CPU s per 1,000 grants, one / two | non-2xx one / two |
|---|---|---|---|---|---|---|---|
$(row cc_es256 "client_credentials, ES256")
$(row rt_es256 "refresh_token, ES256 (access + ID token)")

Through HAProxy (two nodes, ${KILL_DURATION} s, $CONNS connections, client_credentials ES256):

| run | grants | p50 (ms) | p99 (ms) | p99 ÷ undisturbed p99 | non-2xx | socket errors |
|---|---|---|---|---|---|---|
| undisturbed | $s_ok | $(ms "$s_p50") | $(ms "$s_p99") | 1.00 | $s_bad | $s_sock |
| node A killed (SIGKILL) at $((KILL_DURATION / 3)) s, restarted at $((KILL_DURATION / 2)) s (ready after $RESTART_MS ms) | $k_ok | $(ms "$k_p50") | $(ms "$k_p99") | $(awk -v a="$k_p99" -v b="$s_p99" 'BEGIN {printf "%.2f", a / b}') | $k_bad | $k_sock |
EOF
)
mkdir -p "$BENCH/results"
STAMP=$(date +%Y%m%d-%H%M%S)
printf '%s\n' "$REPORT" | tee "$BENCH/results/nodes-$STAMP.md"
