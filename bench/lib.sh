# lib.sh - helpers of bench/run: starting services, RSS, recording figures.
# Sourced, not run.

# record BENCH METRIC VALUE [UNIT]: one raw figure (one run) into $RAW.
record() {
  printf '{"bench":"%s","metric":"%s","value":%s,"unit":"%s"}\n' "$1" "$2" "${3:-null}" "${4:-}" >>"$RAW"
}

# note TEXT: a line for RESULTS.md's notes.
note() { printf '%s\n' "$*" >>"$NOTES"; say "bench: $*"; }

# jget JSON KEY: a field of a one-line JSON object.
jget() { jq -r ".$2 // empty" <<<"$1"; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

uniq_name() { printf '%s_%s_%s' "$1" "$$" "$((RANDOM * 32768 + RANDOM))"; }

now_ms() { date +%s%3N; }

# start_svc VAR NAME [KEY=VALUE ...]: starts build/bin/triage-NAME (or the
# program in $SVC_CMD) with the env, waits for /readyz = 200 (60 s), and sets
# VAR_PID, VAR_PORT, VAR_URL and VAR_START_MS (the start-up time).
start_svc() {
  local var=$1 name=$2; shift 2
  local port; port=$(free_port)
  local log="$WORK/logs/$name-$var.log"
  local t0; t0=$(now_ms)
  # No /metrics listener unless the caller asks for one (TRIAGE_METRICS_PORT
  # in the env): several services of a kind run at once.
  env TRIAGE_METRICS_PORT=0 "$@" TRIAGE_HTTP_PORT="$port" TRIAGE_LOG_LEVEL="${BENCH_LOG_LEVEL:-warn}" \
    ${SVC_WRAP:-} "$BIN/triage-$name" >"$log" 2>&1 &
  local pid=$!
  local deadline=$((t0 + ${SVC_TIMEOUT_MS:-60000}))
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port${SVC_READY_PATH:-/readyz}")" = 200 ]; do
    if ! kill -0 "$pid" 2>/dev/null || [ "$(now_ms)" -gt "$deadline" ]; then
      tail -20 "$log" >&2
      kill "$pid" 2>/dev/null || true
      die "bench: triage-$name did not become ready (log: $log)"
    fi
    sleep 0.01
  done
  printf -v "${var}_PID" '%s' "$pid"
  printf -v "${var}_PORT" '%s' "$port"
  printf -v "${var}_URL" '%s' "http://127.0.0.1:$port"
  printf -v "${var}_START_MS" '%s' "$(($(now_ms) - t0))"
  STARTED+=("$pid")
}

# stop_pid PID: SIGTERM, wait up to 20 s, then SIGKILL.
stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# rss_kb PID [VmRSS|VmHWM]
rss_kb() { awk -v k="${2:-VmRSS}:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# median of the numbers on stdin
median() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}'; }

# drop_db NAME
drop_db() {
  "$PY" - "$MONGO_URI" "$1" <<'PYEOF' >/dev/null 2>&1 || true
import sys, pymongo
pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=5000, socketTimeoutMS=120000).drop_database(sys.argv[2])
PYEOF
}

# topics create|delete PARTITIONS NAME...
topics() { local op=$1 parts=$2; shift 2; "$TK" topics "$op" "$BROKERS" "$parts" "$@" >/dev/null; }
