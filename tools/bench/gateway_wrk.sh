#!/usr/bin/env bash
# The gateway under load, measured with wrk against nginx as the ceiling, in
# one run on this machine (issue 4, Benchmark):
#   - GET /v1/contacts/{id} through the gateway with profiles' entity cache
#     off (every read from SQLite) and on (every read a Redis hit);
#   - the same read with the cache off and the services on unix sockets
#     instead of 127.0.0.1 ports (gRPC's unix: addresses; for services on the
#     gateway's host);
#   - POST /v1/interactions (wrk Lua script tools/bench/wrk_post.lua);
#   - nginx, one worker, access log off, answering the same contact JSON from
#     memory (return 200 '<json>');
# each at 1 connection and at 64 connections (2 wrk threads), in rounds: each
# gateway run is followed by an nginx run, and the ratios gateway/nginx of
# requests/s and p99 at 64 connections (targets: >= 0.2 and <= 3) are the
# medians of those pairs, so that the machine's drift over minutes (other VMs
# on the host, builds) does not land on one side only.
#
# It starts its own redis-server, the four services, the gateway and nginx on
# free 127.0.0.1 ports with a temporary data dir, and stops all of them on
# exit. A gateway run with errors also prints the statuses the gateway
# answered during it (from its /metrics). Binaries come from
# $RAPPORT_BUILD_DIR/bin (default build/bin; build them with tools/build).
# wrk and nginx are installed here when missing (only this benchmark needs
# them), without letting the package start a system nginx.
#
#   tools/bench/gateway_wrk.sh
#   WRK_DURATION=30 tools/bench/gateway_wrk.sh      # seconds per run (default 10)
#
# Knobs (environment): WRK_DURATION (10), WRK_WARMUP (2 s before a case's
# first run), WRK_ROUNDS (3 runs per GET case and connection count),
# WRK_THREADS (2), WRK_CONNECTIONS ("1 64"; the ratios use the largest),
# BENCH_AUTH (key: X-Api-Key + X-Rapport-User, the default; jwt: a user's
# HS256 token), RAPPORT_LOG_LEVEL (warn: no per-request access log, like
# nginx's access_log off), RAPPORT_HTTP_THREADS (the gateway's default, one
# per core). Every process shares the cores with wrk, so other load on the
# machine shows in the figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)

DURATION="${WRK_DURATION:-10}"
WARMUP="${WRK_WARMUP:-2}"
WRK_THREADS="${WRK_THREADS:-2}"
CONNECTIONS="${WRK_CONNECTIONS:-1 64}"
ROUNDS="${WRK_ROUNDS:-3}"
AUTH="${BENCH_AUTH:-key}"
LOG_LEVEL="${RAPPORT_LOG_LEVEL:-warn}"
BUILD_DIR="${RAPPORT_BUILD_DIR:-build}"
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
BIN="$BUILD_DIR/bin"

for b in profiles interactions recommendations notifications gateway; do
  if [ ! -x "$BIN/$b" ]; then
    echo "gateway_wrk: $BIN/$b is missing; build first (tools/build, or set RAPPORT_BUILD_DIR)" >&2
    exit 1
  fi
done
NGINX="$(command -v nginx || true)"
[ -n "$NGINX" ] || NGINX=/usr/sbin/nginx
if ! command -v wrk >/dev/null || [ ! -x "$NGINX" ] || ! command -v redis-server >/dev/null || ! command -v curl >/dev/null; then
  echo "gateway_wrk: installing what is missing (wrk, nginx-light)" >&2
  tools/deps
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  # policy-rc.d answering 101 keeps the package from starting nginx on port 80.
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends wrk nginx-light >/dev/null
  $SUDO rm -f /usr/sbin/policy-rc.d
  NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
fi
if [ "$AUTH" = jwt ] && ! command -v openssl >/dev/null; then
  echo "gateway_wrk: BENCH_AUTH=jwt needs the openssl command (apt-get install openssl)" >&2
  exit 1
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/gateway_wrk.XXXXXX")
PIDS=()
stop_all() {
  local i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill -TERM "${PIDS[i]}" 2>/dev/null || true; done
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do wait "${PIDS[i]}" 2>/dev/null || true; done
  PIDS=()
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_all
  if [ -n "${NGINX_PID:-}" ]; then
    kill -TERM "$NGINX_PID" 2>/dev/null || true
    wait "$NGINX_PID" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ]; then
    echo "gateway_wrk: failed; logs kept in $TMP" >&2
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port VAR: sets VAR to a free loopback port, counting up from a random
# start so that parallel runs rarely collide (not in a subshell: it advances
# NEXT_PORT).
NEXT_PORT=$((20000 + RANDOM % 20000))
free_port() {
  while (exec 3<>"/dev/tcp/127.0.0.1/$NEXT_PORT") 2>/dev/null; do NEXT_PORT=$((NEXT_PORT + 1)); done
  printf -v "$1" '%s' "$NEXT_PORT"
  NEXT_PORT=$((NEXT_PORT + 1))
}

wait_http() {  # url seconds
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

ADMIN_KEY="rpa_bench_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
JWT_SECRET="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
INTERNAL_KEY="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"

# Starts redis, profiles (entity cache $1), interactions, recommendations,
# notifications and the gateway in a fresh data dir (the gateway is ready only
# when every backend is); the services listen on 127.0.0.1 ports, or on unix
# sockets in the data dir when $2 is "unix". Sets GW.
start_stack() {
  local cache=$1 transport=${2:-tcp} dir="$TMP/stack-cache-$1-$2"
  mkdir -p "$dir"
  local redis_port profiles_port interactions_port recommendations_port notifications_port gw_port
  free_port redis_port
  free_port profiles_port
  free_port interactions_port
  free_port recommendations_port
  free_port notifications_port
  free_port gw_port
  redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" \
    >"$dir/redis.log" 2>&1 &
  PIDS+=($!)
  BACK_PIDS=($!)
  local i
  for ((i = 0; i < 100; i++)); do
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  local -a env=(
    RAPPORT_INTERNAL_KEY="$INTERNAL_KEY" RAPPORT_SECRETS_KEY="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    RAPPORT_DATA_DIR="$dir" RAPPORT_REDIS_ADDR="127.0.0.1:$redis_port"
    RAPPORT_LOG_LEVEL="$LOG_LEVEL"
  )
  if [ "$transport" = unix ]; then
    env+=(PROFILES_SERVICE_ADDR="unix:$dir/profiles.sock" INTERACTIONS_SERVICE_ADDR="unix:$dir/interactions.sock"
      RECOMMENDATIONS_SERVICE_ADDR="unix:$dir/recommendations.sock"
      NOTIFICATIONS_SERVICE_ADDR="unix:$dir/notifications.sock")
  else
    env+=(PROFILES_SERVICE_ADDR="127.0.0.1:$profiles_port" INTERACTIONS_SERVICE_ADDR="127.0.0.1:$interactions_port"
      RECOMMENDATIONS_SERVICE_ADDR="127.0.0.1:$recommendations_port"
      NOTIFICATIONS_SERVICE_ADDR="127.0.0.1:$notifications_port")
  fi
  env "${env[@]}" RAPPORT_PROFILES_ENTITY_CACHE="$cache" "$BIN/profiles" >"$dir/profiles.log" 2>&1 &
  PIDS+=($!)
  BACK_PIDS+=($!)
  local svc
  for svc in interactions recommendations notifications; do
    env "${env[@]}" "$BIN/$svc" >"$dir/$svc.log" 2>&1 &
    PIDS+=($!)
    BACK_PIDS+=($!)
  done
  env "${env[@]}" RAPPORT_HTTP_ADDR="127.0.0.1:$gw_port" RAPPORT_ADMIN_KEY="$ADMIN_KEY" \
    RAPPORT_JWT_SECRET="$JWT_SECRET" RAPPORT_RATE_LIMIT_PER_MINUTE=1000000000 RAPPORT_RATE_LIMIT_BURST=100000000 \
    "$BIN/gateway" >"$dir/gateway.log" 2>&1 &
  PIDS+=($!)
  FRONT_PIDS=($!)
  GW="http://127.0.0.1:$gw_port"
  if ! wait_http "$GW/readyz" 30; then
    echo "gateway_wrk: the stack did not become ready; see $dir/*.log" >&2
    exit 1
  fi
}

json_field() {  # name: the first "name":"value" of stdin
  grep -o "\"$1\":\"[^\"]*\"" | head -1 | cut -d'"' -f4
}

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

# Creates an org, a user, a key acting as the user and one contact; sets
# AUTH_HEADERS (wrk/curl -H arguments), CONTACT_ID and CONTACT_JSON.
bootstrap() {
  local org admin_secret org_id user_id key secret
  org=$(curl -fsS -X POST "$GW/v1/orgs" -H "X-Api-Key: $ADMIN_KEY" -H 'Content-Type: application/json' \
    -d '{"displayName":"Bench Org"}')
  admin_secret=$(json_field secret <<<"$org")
  org_id=$(json_field id <<<"$org")
  user_id=$(curl -fsS -X POST "$GW/v1/users" -H "X-Api-Key: $admin_secret" -H 'Content-Type: application/json' \
    -d '{"displayName":"Bench User","email":"bench@bench.test","timezone":"Europe/Paris"}' | json_field id)
  key=$(curl -fsS -X POST "$GW/v1/apiKeys" -H "X-Api-Key: $admin_secret" -H 'Content-Type: application/json' \
    -d '{"displayName":"bench app","scopes":["READ","WRITE","ACT_AS_USER"]}')
  secret=$(json_field secret <<<"$key")
  if [ -z "$admin_secret" ] || [ -z "$user_id" ] || [ -z "$secret" ]; then
    echo "gateway_wrk: bootstrap failed (org: $org)" >&2
    exit 1
  fi
  if [ "$AUTH" = jwt ]; then
    local header payload sig
    header=$(printf '%s' '{"alg":"HS256","typ":"JWT"}' | b64url)
    payload=$(printf '{"sub":"%s","org":"%s","iss":"rapport","aud":"rapport","exp":%d}' \
      "$user_id" "$org_id" $(($(date +%s) + 3600)) | b64url)
    sig=$(printf '%s' "$header.$payload" | openssl dgst -sha256 -hmac "$JWT_SECRET" -binary | b64url)
    AUTH_HEADERS=(-H "Authorization: Bearer $header.$payload.$sig")
  else
    AUTH_HEADERS=(-H "X-Api-Key: $secret" -H "X-Rapport-User: $user_id")
  fi
  # A contact of a realistic size (about 700 bytes of JSON).
  CONTACT_ID=$(curl -fsS -X POST "$GW/v1/contacts" "${AUTH_HEADERS[@]}" -H 'Content-Type: application/json' -d '{
      "displayName":"Grace Hopper","givenName":"Grace","familyName":"Hopper","headline":"Compilers and COBOL",
      "company":"US Navy","title":"Rear Admiral","emails":["grace@navy.test","hopper@example.test"],
      "phones":["+1 555 0100"],"links":["https://example.test/grace"],"location":"Arlington, VA",
      "birthday":{"month":12,"day":9,"year":1906},"tags":["mentor","compilers","navy"],
      "seeking":["speakers"],"offering":["introductions to the Navy"],"tier":"CLOSE",
      "howWeMet":"a conference on programming languages",
      "notes":"Talked about nanoseconds and the first bug; follow up about the talk in spring."}' | json_field id)
  CONTACT_JSON=$(curl -fsS "$GW/v1/contacts/$CONTACT_ID" "${AUTH_HEADERS[@]}")
  if [ -z "$CONTACT_ID" ] || [ -z "$CONTACT_JSON" ]; then
    echo "gateway_wrk: creating the contact failed" >&2
    exit 1
  fi
  POST_BODY="{\"kind\":\"MESSAGE\",\"direction\":\"GAVE\",\"contactIds\":[\"$CONTACT_ID\"],\"summary\":\"checking in\"}"
  # One POST through curl, so a broken body fails here rather than as non-2xx in wrk.
  curl -fsS -o /dev/null -X POST "$GW/v1/interactions" "${AUTH_HEADERS[@]}" -H 'Content-Type: application/json' \
    -d "$POST_BODY"
}

# Every run appends one line to $TMP/results.tsv: name, connections, round,
# requests/s, p50 and p99 (ms), errors (non-2xx + socket errors), and the CPU
# microseconds per request of FRONT_PIDS (the gateway, or nginx: its worker is
# a child of its master) and of BACK_PIDS (redis + the four services).
NAMES=()
FRONT_PIDS=()
BACK_PIDS=()
ROUND=1
TICK=$(getconf CLK_TCK)
: >"$TMP/results.tsv"

cpu_ticks() {  # pids...: user + system ticks of them and their children
  local total=0 p c
  for p in "$@"; do
    for c in $p $(cat "/proc/$p/task/$p/children" 2>/dev/null); do
      if [ -r "/proc/$c/stat" ]; then
        total=$((total + $(sed 's/.*) //' "/proc/$c/stat" | awk '{ print $12 + $13 }')))
      fi
    done
  done
  echo "$total"
}

# non2xx_by_status url: "status count" lines of the gateway's non-2xx answers
# so far, from its /metrics (nothing for a url that is not the gateway's).
non2xx_by_status() {
  case "$1" in
    "$GW"/*) ;;
    *) return 0 ;;
  esac
  curl -fsS -H "X-Api-Key: $ADMIN_KEY" "$GW/metrics" 2>/dev/null |
    awk '/^rapport_gateway_requests_total\{/ && match($0, /code="[0-9]+"/) {
           code = substr($0, RSTART + 6, RLENGTH - 7)
           if (code !~ /^2/) n[code] += $NF
         }
         END { for (c in n) print c, n[c] }' | sort || true
}

to_ms() {
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /m$/) n *= 60000;
                         else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'
}

# run_wrk name conns url [wrk args...]: one run (round $ROUND), warmed up
# before the first round.
run_wrk() {
  local name=$1 conns=$2 url=$3
  shift 3
  local threads=$WRK_THREADS
  if ((conns < threads)); then threads=$conns; fi
  local seen=0 n
  for n in "${NAMES[@]}"; do
    if [ "$n" = "$name" ]; then seen=1; fi
  done
  if [ "$seen" = 0 ]; then NAMES+=("$name"); fi
  if ((WARMUP > 0 && ROUND == 1)); then
    wrk -t"$threads" -c"$conns" -d"${WARMUP}s" "$@" "$url" >/dev/null 2>&1 || true
  fi
  local out front0 back0 front1 back1 codes0 codes1
  codes0=$(non2xx_by_status "$url")
  front0=$(cpu_ticks "${FRONT_PIDS[@]}")
  back0=$(cpu_ticks "${BACK_PIDS[@]}")
  out=$(wrk -t"$threads" -c"$conns" -d"${DURATION}s" --timeout 5s --latency "$@" "$url")
  front1=$(cpu_ticks "${FRONT_PIDS[@]}")
  back1=$(cpu_ticks "${BACK_PIDS[@]}")
  codes1=$(non2xx_by_status "$url")
  printf '### %s, %s connections, round %s\n%s\n' "$name" "$conns" "$ROUND" "$out" >>"$TMP/wrk.log"
  local rps p50 p99 err requests front back
  rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
  p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
  p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
  err=$(awk '/Non-2xx or 3xx responses:/ { n += $NF }
             /Socket errors:/ { gsub(",", ""); n += $4 + $6 + $8 + $10 }
             END { print n + 0 }' <<<"$out")
  requests=$(awk '/requests in/ { print $1 }' <<<"$out")
  front=$(awk -v t=$((front1 - front0)) -v n="$requests" -v hz="$TICK" 'BEGIN { printf "%.0f", (n > 0 ? t * 1e6 / hz / n : 0) }')
  back=$(awk -v t=$((back1 - back0)) -v n="$requests" -v hz="$TICK" 'BEGIN { printf "%.0f", (n > 0 ? t * 1e6 / hz / n : 0) }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$conns" "$ROUND" "$rps" "$p50" "$p99" "$err" "$front" "$back" \
    >>"$TMP/results.tsv"
  printf '  %-30s %3s conns round %s %7s req/s  p50 %7s ms  p99 %7s ms  errors %s  CPU us/req %s + %s\n' "$name" "$conns" \
    "$ROUND" "$rps" "$p50" "$p99" "$err" "$front" "$back" >&2
  if [ "$err" != 0 ] && [ -n "$codes1" ]; then
    # Which statuses the gateway answered during this run (its /metrics, after - before).
    printf '    the gateway answered: %s\n' "$(join -a2 -e0 -o 2.1,1.2,2.2 <(echo "$codes0") <(echo "$codes1") |
      awk '$3 > $2 { printf "%s%s x%d", sep, $1, $3 - $2; sep = ", " }')" >&2
  fi
}

# column name conns col: the values of one column of one case, one per line
column() {
  awk -F'\t' -v name="$1" -v c="$2" -v col="$3" '$1 == name && $2 == c { print $col }' "$TMP/results.tsv"
}
median() {  # of the numbers on stdin
  sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2];
                                        else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "gateway_wrk: ${DURATION}s per run after ${WARMUP}s of warm-up, wrk -t$WRK_THREADS, auth $AUTH, log level $LOG_LEVEL, $(nproc) cores" >&2
# Other load on the machine shows in every figure: say how busy it was.
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# start_nginx: the ceiling, nginx answering the first stack's contact JSON
# from memory; it runs until the end, so that every gateway run has an nginx
# run beside it.
start_nginx() {
  if [[ "$CONTACT_JSON" == *"'"* || "$CONTACT_JSON" == *'$'* || "$CONTACT_JSON" == *"\\"* ]]; then
    echo "gateway_wrk: the contact JSON has a quote, \$ or backslash; cannot inline it into nginx.conf" >&2
    exit 1
  fi
  free_port NGINX_PORT
  mkdir -p "$TMP/nginx/logs"
  cat >"$TMP/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 100000000;
  client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fastcgi;
  uwsgi_temp_path $TMP/nginx/uwsgi;
  scgi_temp_path $TMP/nginx/scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      default_type application/json;
      return 200 '$CONTACT_JSON';
    }
  }
}
CONF
"$NGINX" -p "$TMP/nginx" -e "$TMP/nginx/logs/error.log" -c "$TMP/nginx/nginx.conf" &
NGINX_PID=$!
NGINX_URL="http://127.0.0.1:$NGINX_PORT/v1/contacts/$CONTACT_ID"
if ! wait_http "$NGINX_URL" 10; then
  echo "gateway_wrk: nginx did not answer; see $TMP/nginx/logs/error.log" >&2
  exit 1
fi
if [ "$(curl -fsS "$NGINX_URL")" != "$CONTACT_JSON" ]; then
  echo "gateway_wrk: nginx does not answer the contact JSON verbatim" >&2
  exit 1
fi
}

NGINX_PID=""
NGINX_NAME="nginx return 200 (ceiling)"
# Each gateway case runs $ROUNDS times per connection count, each run followed
# by an nginx run: the ratios are taken pairwise, so that the machine's own
# drift (other VMs, other builds) cancels out as far as it can.
for stack in "false tcp" "true tcp" "false unix"; do
  read -r cache transport <<<"$stack"
  start_stack "$cache" "$transport"
  bootstrap
  if [ -z "$NGINX_PID" ]; then start_nginx; fi
  case "$stack" in
    "false tcp") label="GET contact, cache off" ;;
    "true tcp") label="GET contact, cache on (hit)" ;;
    *) label="GET contact, off, unix sock" ;;
  esac
  stack_front=("${FRONT_PIDS[@]}")
  stack_back=("${BACK_PIDS[@]}")
  for c in $CONNECTIONS; do
    for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
      FRONT_PIDS=("${stack_front[@]}")
      BACK_PIDS=("${stack_back[@]}")
      run_wrk "$label" "$c" "$GW/v1/contacts/$CONTACT_ID" "${AUTH_HEADERS[@]}"
      FRONT_PIDS=("$NGINX_PID")
      BACK_PIDS=()
      run_wrk "$NGINX_NAME" "$c" "$NGINX_URL" "${AUTH_HEADERS[@]}"
      echo -e "$label\t$c\t$ROUND\t$(tail -n 2 "$TMP/results.tsv" | cut -f4,6 | paste -s -d'\t')" >>"$TMP/pairs.tsv"
    done
  done
  ROUND=1
  FRONT_PIDS=("${stack_front[@]}")
  BACK_PIDS=("${stack_back[@]}")
  if [ "$stack" = "false tcp" ]; then
    export WRK_BODY="$POST_BODY"
    for c in $CONNECTIONS; do
      run_wrk "POST interaction" "$c" "$GW/v1/interactions" "${AUTH_HEADERS[@]}" \
        -s "$ROOT/tools/bench/wrk_post.lua"
    done
  fi
  stop_all
done
kill -TERM "$NGINX_PID" 2>/dev/null || true
wait "$NGINX_PID" 2>/dev/null || true
NGINX_PID=""

# The table: medians over the rounds.
MAXC=0
for c in $CONNECTIONS; do
  if ((c > MAXC)); then MAXC=$c; fi
done
echo
echo "gateway_wrk: wrk ${DURATION}s per run, -t$WRK_THREADS (-t1 at 1 connection), auth $AUTH, log level $LOG_LEVEL," \
  "$(nproc) cores shared by every process and wrk; contact JSON $(printf '%s' "$CONTACT_JSON" | wc -c) bytes"
echo "medians over $ROUNDS rounds (POST: one); CPU us/req: CPU time per request of the gateway (or nginx) and of redis + the four services"
echo "machine load average (1, 5, 15 min) at the start: $LOAD_START; at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-28s %5s %8s %8s %8s %6s %9s %9s\n' case conns "req/s" "p50 ms" "p99 ms" errors "gw CPU" "svc CPU"
total_err=0
for name in "${NAMES[@]}"; do
  for c in $CONNECTIONS; do
    [ -n "$(column "$name" "$c" 4)" ] || continue
    printf '%-28s %5s %8.0f %8.3f %8.3f %6s %9.0f %9.0f\n' "$name" "$c" "$(column "$name" "$c" 4 | median)" \
      "$(column "$name" "$c" 5 | median)" "$(column "$name" "$c" 6 | median)" \
      "$(column "$name" "$c" 7 | awk '{ n += $1 } END { print n + 0 }')" \
      "$(column "$name" "$c" 8 | median)" "$(column "$name" "$c" 9 | median)"
    total_err=$((total_err + $(column "$name" "$c" 7 | awk '{ n += $1 } END { print n + 0 }')))
  done
done
echo
echo "gateway / nginx at $MAXC connections, each run against the nginx run after it, median of $ROUNDS" \
  "(targets: req/s >= 0.2, p99 <= 3):"
for name in "GET contact, cache off" "GET contact, cache on (hit)" "GET contact, off, unix sock"; do
  rr=$(awk -F'\t' -v name="$name" -v c="$MAXC" '$1 == name && $2 == c && $6 > 0 { print $4 / $6 }' "$TMP/pairs.tsv" | median)
  pr=$(awk -F'\t' -v name="$name" -v c="$MAXC" '$1 == name && $2 == c && $7 > 0 { print $5 / $7 }' "$TMP/pairs.tsv" | median)
  all=$(awk -F'\t' -v name="$name" -v c="$MAXC" '$1 == name && $2 == c && $6 > 0 { printf "%s%.3f", sep, $4 / $6; sep = " " }' "$TMP/pairs.tsv")
  awk -v name="$name" -v rr="$rr" -v pr="$pr" -v all="$all" 'BEGIN {
    printf "  %-28s req/s %.3f (%s)   p99 %.2fx (%s)   req/s ratio per round: %s\n", name, rr,
           (rr >= 0.2 ? "meets" : "misses"), pr, (pr <= 3 ? "meets" : "misses"), all }'
done
on=$(column "GET contact, cache on (hit)" "$MAXC" 4 | median)
off=$(column "GET contact, cache off" "$MAXC" 4 | median)
awk -v on="$on" -v off="$off" 'BEGIN { if (off > 0) printf "  cache on / cache off:        req/s %.2fx\n", on / off }'
if ((total_err > 0)); then
  echo "warning: $total_err non-2xx answers or socket errors; the figures above count them as requests" >&2
fi
