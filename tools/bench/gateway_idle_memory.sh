#!/usr/bin/env bash
# Memory of idle client connections in the gateway: starts the gateway alone
# on a free 127.0.0.1 port (no backend is called), opens N connections that
# each send one byte of a request header and then wait, and prints the
# gateway's resident memory before and after, per connection.
#
#   tools/bench/gateway_idle_memory.sh          # N = 4000
#   IDLE_CONNECTIONS=10000 tools/bench/gateway_idle_memory.sh
#
# Binaries come from $RAPPORT_BUILD_DIR/bin (default build/bin).
set -euo pipefail
cd "$(dirname "$0")/../.."
N="${IDLE_CONNECTIONS:-4000}"
BUILD_DIR="${RAPPORT_BUILD_DIR:-build}"
GATEWAY="$BUILD_DIR/bin/gateway"
[ -x "$GATEWAY" ] || { echo "gateway_idle_memory: $GATEWAY is missing; build first (tools/build)" >&2; exit 1; }
ulimit -n $((N + 256)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"

PORT=$((20000 + RANDOM % 20000))  # the first port from there that nothing answers on
while (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do PORT=$((PORT + 1)); done
# Every connection comes from 127.0.0.1: no per-address share here.
RAPPORT_INTERNAL_KEY=idle-memory RAPPORT_HTTP_ADDR="127.0.0.1:$PORT" RAPPORT_LOG_LEVEL=warn RAPPORT_CLIENT_SHARE_PERCENT=0 \
  "$GATEWAY" 2>/dev/null &
PID=$!
trap 'kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true' EXIT
for ((i = 0; i < 100; i++)); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
  sleep 0.05
done
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$PID/status"; }
sleep 0.3
BEFORE=$(rss)
FDS=()
for ((i = 0; i < N; i++)); do
  exec {fd}<>"/dev/tcp/127.0.0.1/$PORT"
  printf 'G' >&"$fd"
  FDS+=("$fd")
done
sleep 1
AFTER=$(rss)
awk -v b="$BEFORE" -v a="$AFTER" -v n="$N" 'BEGIN {
  printf "gateway RSS %d kB -> %d kB with %d idle connections: %.1f kB per connection\n", b, a, n, (a - b) / n }'
for fd in "${FDS[@]}"; do exec {fd}>&-; done
