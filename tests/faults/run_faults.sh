#!/usr/bin/env bash
# run_faults.sh - the fault-injection suite (issue 8, section 1).
#
# Starts a PRIVATE Kafka broker and FerretDB (deploy/local/stack-up with its
# own TRIAGE_RUN and ports: the shared stack on 9092/27017 is never touched),
# then for each scenario runs the real services as child processes against a
# fresh database and fresh topics, sends tickets, injects the fault, waits
# for the pipeline to settle and checks:
#   - every accepted ticket is stored exactly once (no id missing, none extra,
#     none duplicated);
#   - every one ends classified, or unprocessed with its error recorded;
#   - `triagectl check` finds the collection consistent;
#   - the services still stop cleanly on SIGTERM (exit status 0).
#
#   run_faults.sh --bin DIR --tool FAULTS_TOOL --work DIR [--only a,b,...] [--tickets N]
#                 [--kafka-nodes 1|3] [--results FILE]
#
# Scenarios (select with --only or FAULTS_ONLY): a classifier SIGKILL,
# b ingest SIGKILL, c api SIGKILL during a processing job, d Kafka stopped,
# e database stopped, f LLM down/slow/429/garbage, g classifier SIGSTOP past
# its session timeout: on one Kafka node. k, on a 3-node Kafka cluster
# (--kafka-nodes 3, FAULTS_KAFKA_NODES): SIGKILL the leader of every
# partition mid-flow, later the active controller, restart them.
# FAULTS_TICKETS (default 5000, as issue 8 asks) tickets per scenario;
# FAULTS_LLM_DOWN_S (default 60), FAULTS_KAFKA_DOWN_S (20), FAULTS_DB_DOWN_S
# (30) size the outages. Prints `N passed, N failed`; exits 1 on a failure.
# --results FILE appends the measured figures (scenario k's failover pauses)
# to FILE as JSON lines.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=$ROOT/build/bin
TOOL=$ROOT/build/tests/faults_tool
WORK=$ROOT/build/faults
NODES=${FAULTS_KAFKA_NODES:-1}
ONLY=${FAULTS_ONLY:-}
N=${FAULTS_TICKETS:-5000}
RESULTS=""
LLM_DOWN_S=${FAULTS_LLM_DOWN_S:-60}
KAFKA_DOWN_S=${FAULTS_KAFKA_DOWN_S:-20}
DB_DOWN_S=${FAULTS_DB_DOWN_S:-30}
SETTLE_S=${FAULTS_SETTLE_S:-240}
while [ $# -gt 0 ]; do
  case $1 in
    --bin) BIN=$2; shift 2 ;;
    --tool) TOOL=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --tickets) N=$2; shift 2 ;;
    --kafka-nodes) NODES=$2; shift 2 ;;
    --results) RESULTS=$2; shift 2 ;;
    *) echo "usage: $0 [--bin DIR] [--tool FILE] [--work DIR] [--only a,b,..] [--tickets N] [--kafka-nodes 1|3] [--results FILE]" >&2; exit 2 ;;
  esac
done
# The single node's scenarios and the cluster's need different stacks.
case $NODES in
  1) ONLY=${ONLY:-a,b,c,d,e,f,g}; [[ $ONLY != *k* ]] || { echo "scenario k needs --kafka-nodes 3" >&2; exit 2; } ;;
  3) ONLY=${ONLY:-k}; [[ $ONLY == k ]] || { echo "with --kafka-nodes 3 only scenario k runs" >&2; exit 2; } ;;
  *) echo "--kafka-nodes is 1 or 3" >&2; exit 2 ;;
esac

mkdir -p "$WORK" && WORK=$(cd "$WORK" && pwd) # the stack's paths must be absolute
PASSED=0
FAILED=0
ADMIN_KEY=$(head -c 32 /dev/urandom | base64 | tr -dc "A-Za-z0-9")  # random per run
rm -rf "$WORK/logs"; mkdir -p "$WORK/logs"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
check() { # check DESCRIPTION COMMAND...: one assertion, printed
  if "${@:2}"; then PASSED=$((PASSED + 1)); printf '  ok    %s\n' "$1"
  else FAILED=$((FAILED + 1)); printf '  FAIL  %s\n' "$1"; fi
}

# ---- ports and the private stack ------------------------------------------
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# next_port: sets PORT to a free port above the last one handed out (run in
# this shell, not in $(...), so two calls never return the same port).
PORT=$((20000 + RANDOM % 10000))  # below the ephemeral range (32768+), where client sockets would race us
next_port() { PORT=$((PORT + 1)); while (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null; do PORT=$((PORT + 1)); done; }
if [ "$NODES" = 1 ]; then
  next_port; KPORT=$PORT; next_port; KCPORT=$PORT; next_port; MPORT=$PORT; next_port; PPORT=$PORT; next_port; KTPORT=$PORT
else
  # Node n listens on each of the three ports + 10(n-1) (env.sh): a block of
  # 23 ports whose nine are free, handed out past its end afterwards.
  block_free() { local p; for p in 0 1 2 10 11 12 20 21 22; do port_free $((PORT + p)) || return 1; done; }
  next_port; until block_free; do next_port; done
  KPORT=$PORT KCPORT=$((PORT + 1)) KTPORT=$((PORT + 2)); PORT=$((PORT + 22))
  next_port; MPORT=$PORT; next_port; PPORT=$PORT
fi
export TRIAGE_RUN=$WORK/stack TRIAGE_KAFKA_PORT=$KPORT TRIAGE_KAFKA_CONTROLLER_PORT=$KCPORT TRIAGE_KAFKA_TLS_PORT=$KTPORT \
       TRIAGE_MONGO_PORT=$MPORT TRIAGE_PG_PORT=$PPORT TRIAGE_PARTITIONS=3 TRIAGE_KAFKA_HEAP=${TRIAGE_KAFKA_HEAP:-384m} \
       TRIAGE_KAFKA_NODES=$NODES
# A worktree shares the main checkout's fetched Kafka jars and FerretDB.
if [ -z "${TRIAGE_CACHE:-}" ] && [ ! -d "$ROOT/.cache" ]; then
  common=$(git -C "$ROOT" rev-parse --path-format=absolute --git-common-dir 2>/dev/null) &&
    [ -d "$common/../.cache" ] && export TRIAGE_CACHE=$(cd "$common/../.cache" && pwd)
fi
# The stack's own names for what it started (kafka_node, KAFKA_BROKERS,
# kafka_java), with the ports above.
source "$ROOT/deploy/local/env.sh"
BROKERS=$KAFKA_BROKERS
MONGO=mongodb://127.0.0.1:$MPORT

PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  "$ROOT/deploy/local/stack-down" --wipe >/dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "private stack: Kafka $BROKERS, FerretDB 127.0.0.1:$MPORT, state in $TRIAGE_RUN"
rm -rf "$TRIAGE_RUN"
t=$SECONDS
if ! "$ROOT/deploy/local/stack-up" >"$WORK/logs/stack-up.log" 2>&1; then
  cat "$WORK/logs/stack-up.log"; echo "0 passed, 1 failed"; exit 1
fi
log "stack up in $((SECONDS - t)) s"
kafka_stop() { kill "$(cat "$KAFKA_DIR/kafka.pid")"; while kill -0 "$(cat "$KAFKA_DIR/kafka.pid")" 2>/dev/null; do sleep 0.2; done; }
db_stop() { kill "$(cat "$TRIAGE_RUN/ferretdb/ferretdb.pid")"; while kill -0 "$(cat "$TRIAGE_RUN/ferretdb/ferretdb.pid")" 2>/dev/null; do sleep 0.2; done; }
stack_start() { "$ROOT/deploy/local/stack-up" >>"$WORK/logs/stack-up.log" 2>&1; }

# ---- services ---------------------------------------------------------------
# svc_start VAR NAME PORT ENV...: starts build/bin/triage-NAME with the
# scenario's environment plus ENV, on PORT; its pid goes into VAR. Waits for
# /healthz.
# Its /metrics listener gets a free port of its own, kept in METRICS_PORT[PORT].
declare -A METRICS_PORT=()
svc_start() {
  local var=$1 name=$2 port=$3; shift 3
  local logf=$WORK/logs/$SC-$name.log
  [ -n "${METRICS_PORT[$port]:-}" ] || { next_port; METRICS_PORT[$port]=$PORT; }
  env TRIAGE_HTTP_PORT="$port" TRIAGE_METRICS_PORT="${METRICS_PORT[$port]}" TRIAGE_LOG_LEVEL=info \
    "${SC_ENV[@]}" "$@" "$BIN/triage-$name" >>"$logf" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  printf -v "$var" '%s' "$pid"
  for _ in $(seq 300); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { log "$name exited at start:"; tail -5 "$logf"; return 1; }
    sleep 0.1
  done
  log "$name did not answer /healthz in 30 s"; return 1
}
# svc_stop PID: SIGTERM and the exit status (124 if it did not stop in 60 s).
svc_stop() {
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 600); do kill -0 "$1" 2>/dev/null || { wait "$1"; return $?; }; sleep 0.1; done
  kill -9 "$1"; wait "$1" 2>/dev/null; return 124
}
sigkill() { kill -9 "$1" 2>/dev/null; wait "$1" 2>/dev/null; true; }

# ---- tickets and checks -----------------------------------------------------
# gen FILE PREFIX FROM TO [DIRECTIVE_FN]: NDJSON tickets PREFIX<FROM..TO-1>;
# DIRECTIVE_FN i, when given, prints text appended to ticket i's body.
gen() {
  local f=$1 prefix=$2 from=$3 to=$4 fn=${5:-} i extra
  : >"$f"
  for ((i = from; i < to; i++)); do
    extra=""
    [ -n "$fn" ] && extra=$($fn "$i")
    printf '{"id":"%s%06d","subject":"Connector sync fails %d","body":"Our Snowflake connector stopped syncing lineage after the upgrade, how do we fix it? %s"}\n' \
      "$prefix" "$i" "$i" "$extra" >>"$f"
  done
}
publish() { "$BIN/triagectl" publish --quiet --brokers "$BROKERS" --topic "$T_IN" "$1" >>"$WORK/logs/$SC-publish.log" 2>&1; }
upload() { "$BIN/triagectl" upload --quiet --retries 60 --url "http://127.0.0.1:$P_IN" --key "$ADMIN_KEY" "$1" >>"$WORK/logs/$SC-upload.log" 2>&1; }
state() { "$TOOL" state "$MONGO" "$DB" "$PREFIX" "$N" 2>>"$WORK/logs/$SC-state.log"; }
field() { sed -n "s/.*$1=\([0-9]*\).*/\1/p" <<<"$2"; }
# wait_for_field FIELD MIN SECONDS: until state's FIELD >= MIN.
wait_for_field() {
  local s deadline=$((SECONDS + $3))
  while [ $SECONDS -lt $deadline ]; do
    s=$(state) && [ "$(field "$1" "$s")" -ge "$2" ] 2>/dev/null && return 0
    sleep 1
  done
  return 1
}
# settle: waits until no ticket is pending or missing, or the state has not
# moved for 30 s, or SETTLE_S passes. Leaves the last state in $ST.
settle() {
  local deadline=$((SECONDS + SETTLE_S)) last="" still=0
  while [ $SECONDS -lt $deadline ]; do
    ST=$(state) || { sleep 2; continue; }
    [ "$(field pending "$ST")" = 0 ] && [ "$(field missing "$ST")" = 0 ] && return 0
    if [ "$ST" = "$last" ]; then still=$((still + 2)); [ $still -ge 30 ] && return 1; else still=0; fi
    last=$ST
    sleep 2
  done
  return 1
}
# final_checks [EXPECTED_FAILED]: the assertions every scenario ends with.
final_checks() {
  local want_failed=${1:-0}
  settle
  log "final state: $ST"
  if [ "$(field pending "$ST")" != 0 ]; then # what the classifiers hold, for the log
    local port
    for port in $P_CL $P_CL2; do
      curl -fsS "http://127.0.0.1:${METRICS_PORT[$port]:-0}/metrics" 2>/dev/null |
        grep -E '^triage_classifier_(messages_held|in_flight|consumer_lag|circuit_open)' | sed "s/^/    :$port /"
    done
  fi
  check "all $N tickets stored (missing=0)" [ "$(field missing "$ST")" = 0 ]
  check "no ticket stored twice, none unknown (dup=0 extra=0)" \
    [ "$(field dup "$ST")$(field extra "$ST")" = "00" ]
  check "every ticket classified or failed with its error (pending=0)" [ "$(field pending "$ST")" = 0 ]
  check "tickets recorded as failed with their error: $(field failed "$ST") (scripted to fail: $want_failed)" \
    [ "$(field failed "$ST")" -ge "$want_failed" ]
  [ "$(field failed "$ST")" -gt "$want_failed" ] && "$TOOL" failed "$MONGO" "$DB" | sed 's/^/    /' | head -20
  "$BIN/triagectl" check --mongo-uri "$MONGO" --mongo-db "$DB" >"$WORK/logs/$SC-check.log" 2>&1
  local rc=$?
  check "triagectl check: $(tail -1 "$WORK/logs/$SC-check.log")" [ $rc = 0 ]
}
metric() { # metric PORT NAME: the sum of a metric's samples (from its metrics listener)
  curl -fsS "http://127.0.0.1:${METRICS_PORT[$1]:-0}/metrics" 2>/dev/null | awk -v n="$2" '$1 ~ "^(triage_)?"n"({|$)" {s += $2} END {print s + 0}'
}

# scenario_begin LETTER TITLE: fresh database, topics, group and ports. The
# topics are created with TOPIC_OPTS (faults_tool topics' placement options).
TOPIC_OPTS=()
scenario_begin() {
  SC=$1
  local tag=${1}$(date +%s)$RANDOM
  DB=faults_$tag
  PREFIX=F${1^^}-
  T_IN=f.$tag.inbound T_CL=f.$tag.classify T_CD=f.$tag.classified T_DLQ=f.$tag.dlq
  next_port; P_IN=$PORT; next_port; P_CL=$PORT; next_port; P_CL2=$PORT; next_port; P_API=$PORT; next_port; P_LLM=$PORT
  echo
  log "scenario $1: $2 ($N tickets; database $DB)"
  "$TOOL" topics "${TOPIC_OPTS[@]}" "$BROKERS" 3 "$T_IN" "$T_CL" "$T_CD" "$T_DLQ" || return 1
  SC_ENV=(TRIAGE_MONGO_URI="$MONGO/$DB" TRIAGE_MONGO_DB="$DB" TRIAGE_KAFKA_BROKERS="$BROKERS"
          TRIAGE_TOPIC_INBOUND="$T_IN" TRIAGE_TOPIC_CLASSIFY="$T_CL" TRIAGE_TOPIC_CLASSIFIED="$T_CD"
          TRIAGE_TOPIC_DLQ="$T_DLQ" TRIAGE_KAFKA_GROUP="g.$tag" TRIAGE_ADMIN_KEY="$ADMIN_KEY"
          TRIAGE_LLM_PROVIDER=openai TRIAGE_LLM_MODEL=fake-model TRIAGE_LLM_API_KEY=sk-faults
          TRIAGE_LLM_URL="http://127.0.0.1:$P_LLM/v1" TRIAGE_RETRY_BASE=200ms TRIAGE_RETRY_CAP=2s
          TRIAGE_SHUTDOWN_TIMEOUT=20s
          # A SIGKILLed consumer keeps its partitions until its session
          # expires (45 s by default); 10 s keeps the suite short.
          TRIAGE_KAFKA_CONFIG=session.timeout.ms=10000,heartbeat.interval.ms=2000)
}
start_llm() { svc_start LLM fake-llm "$P_LLM" "$@"; }
start_ingest() { svc_start ING ingest "$P_IN" "$@"; }
start_classifier() { svc_start CLS classifier "$P_CL" "$@"; }
start_api() { svc_start API api "$P_API" "$@"; }
# stop_all: SIGTERM every service of the scenario; checks clean exits.
stop_all() {
  local name var rc
  for name in ingest classifier classifier2 api; do
    case $name in ingest) var=${ING:-} ;; classifier) var=${CLS:-} ;; classifier2) var=${CLS2:-} ;; api) var=${API:-} ;; esac
    [ -n "$var" ] || continue
    svc_stop "$var"; rc=$?
    check "$name stops cleanly on SIGTERM (exit $rc)" [ $rc = 0 ]
  done
  [ -n "${LLM:-}" ] && svc_stop "$LLM" >/dev/null
  ING="" CLS="" CLS2="" API="" LLM=""
}
process_unprocessed() { # POST /api/process mode=unprocessed; prints the answer
  curl -sS -m 60 -H "Authorization: Bearer $ADMIN_KEY" -H 'Content-Type: application/json' \
    -d '{"mode":"unprocessed"}' "http://127.0.0.1:$P_API/api/process" 2>&1
}

# ---- the scenarios ------------------------------------------------------------
scenario_a() {
  scenario_begin a "SIGKILL the classifier mid-work, restart it" || return
  start_llm TRIAGE_FAKE_LATENCY_MS=20 && start_ingest && start_classifier || return
  gen "$WORK/a.ndjson" "$PREFIX" 0 "$N"
  publish "$WORK/a.ndjson" &
  local pub=$!
  wait_for_field processed $((N / 5)) 120
  log "processed $(field processed "$(state)") of $N: SIGKILL classifier"
  sigkill "$CLS"
  sleep 2
  start_classifier || return
  wait $pub; check "all $N tickets published to Kafka" [ $? = 0 ]
  final_checks 0
  stop_all
}

scenario_b() {
  scenario_begin b "SIGKILL ingest mid-Kafka-intake, restart it" || return
  start_llm && start_classifier && start_ingest TRIAGE_INGEST_BATCH_SIZE=100 && start_api || return
  gen "$WORK/b.ndjson" "$PREFIX" 0 "$N"
  publish "$WORK/b.ndjson" &
  local pub=$! w=0
  # The state query is too slow to catch ingest mid-intake: its own
  # counter of written tickets is polled instead.
  for _ in $(seq 1200); do
    w=$(metric "$P_IN" ingest_tickets_written_total)
    [ "${w%.*}" -ge $((N / 5)) ] && break
    sleep 0.05
  done
  log "ingest has written $w of $N: SIGKILL ingest"
  sigkill "$ING"
  sleep 2
  start_ingest || return
  wait $pub; check "all $N tickets published to Kafka" [ $? = 0 ]
  # A ticket stored just before the kill may have lost its classification
  # request (classify_requests.c: it stays processed=false); the documented
  # recovery is a processing request for the unprocessed tickets.
  if ! settle; then
    log "after restart: $ST; asking the api to process the unprocessed tickets"
    process_unprocessed >/dev/null
    check "documented recovery (POST /api/process unprocessed) requested for $(field pending "$ST") ticket(s) left unprocessed" true
  fi
  final_checks 0
  stop_all
}

scenario_c() {
  scenario_begin c "SIGKILL the api during a processing job, restart it" || return
  start_llm TRIAGE_FAKE_LATENCY_MS=20 && start_ingest TRIAGE_AUTO_CLASSIFY=false && start_api || return
  gen "$WORK/c.ndjson" "$PREFIX" 0 "$N"
  publish "$WORK/c.ndjson"; check "all $N tickets published to Kafka" [ $? = 0 ]
  wait_for_field present "$N" 180
  check "all $N stored unprocessed before the job" [ "$(field pending "$(state)")" = "$N" ]
  start_classifier || return
  process_unprocessed >"$WORK/c.job1" &
  local req=$!
  sleep 0.1
  log "processing job requested: SIGKILL api"
  sigkill "$API"
  wait $req
  start_api || return
  local job
  job=$(sed -n 's/.*"job_id":"\([^"]*\)".*/\1/p' "$WORK/c.job1")
  if [ -n "$job" ]; then
    log "the job $job was accepted before the kill; following it"
  else
    log "the job was not acknowledged before the kill; requesting it again"
    job=$(process_unprocessed | sed -n 's/.*"job_id":"\([^"]*\)".*/\1/p')
  fi
  check "a processing job exists after the restart ($job)" [ -n "$job" ]
  local deadline=$((SECONDS + SETTLE_S)) st=""
  while [ $SECONDS -lt $deadline ]; do
    st=$(curl -sS -H "Authorization: Bearer $ADMIN_KEY" "http://127.0.0.1:$P_API/api/process/$job")
    [[ $st == *'"state":"done"'* ]] && break
    sleep 2
  done
  log "job status: $st"
  check "the job reports done" grep -q '"state":"done"' <<<"$st"
  settle || { log "left over: $ST; requesting the unprocessed again"; process_unprocessed >/dev/null; }
  final_checks 0
  stop_all
}

scenario_d() {
  scenario_begin d "stop Kafka for ${KAFKA_DOWN_S} s while tickets flow, restart it" || return
  start_llm && start_ingest && start_classifier && start_api || return
  local half=$((N / 2))
  gen "$WORK/d1.ndjson" "$PREFIX" 0 "$half"
  gen "$WORK/d2.ndjson" "$PREFIX" "$half" "$N"
  publish "$WORK/d1.ndjson"; check "first $half tickets published to Kafka" [ $? = 0 ]
  wait_for_field present $((half / 4)) 120
  log "stored $(field present "$(state)"): stopping Kafka for $KAFKA_DOWN_S s; uploading the rest over HTTP meanwhile"
  kafka_stop
  local t0=$SECONDS
  upload "$WORK/d2.ndjson"; check "$((N - half)) tickets uploaded over HTTP while Kafka is down" [ $? = 0 ]
  sleep $((KAFKA_DOWN_S - (SECONDS - t0) > 0 ? KAFKA_DOWN_S - (SECONDS - t0) : 0))
  log "Kafka down for $((SECONDS - t0)) s; starting it again"
  stack_start; check "Kafka restarted" [ $? = 0 ]
  for p in $ING $CLS $API; do check "service $p survived the Kafka outage" kill -0 "$p"; done
  final_checks 0
  stop_all
}

scenario_e() {
  scenario_begin e "stop the database for ${DB_DOWN_S} s while tickets flow, restart it" || return
  start_llm && start_ingest TRIAGE_INGEST_RETRY_AFTER=2s && start_classifier && start_api || return
  local part=$((N * 9 / 10))
  gen "$WORK/e1.ndjson" "$PREFIX" 0 "$part"
  gen "$WORK/e2.ndjson" "$PREFIX" "$part" "$N"
  publish "$WORK/e1.ndjson" &
  local pub=$!
  wait_for_field present $((part / 4)) 120
  log "stored $(field present "$(state)"): stopping FerretDB for $DB_DOWN_S s; uploading $((N - part)) over HTTP meanwhile"
  db_stop
  local t0=$SECONDS
  upload "$WORK/e2.ndjson" &
  local up=$!
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' -m 10 -H "Authorization: Bearer $ADMIN_KEY" \
         -H 'Content-Type: application/x-ndjson' --data-binary @"$WORK/e2.ndjson" "http://127.0.0.1:$P_IN/v1/tickets")
  check "ingest answers an upload with 503 while the database is down (got $code)" [ "$code" = 503 ]
  sleep $((DB_DOWN_S - (SECONDS - t0) > 0 ? DB_DOWN_S - (SECONDS - t0) : 0))
  log "database down for $((SECONDS - t0)) s; starting it again"
  stack_start; check "FerretDB restarted" [ $? = 0 ]
  wait $pub; check "the Kafka tickets were all published" [ $? = 0 ]
  wait $up; check "triagectl upload retried through the outage and stored its tickets" [ $? = 0 ]
  for p in $ING $CLS $API; do check "service $p survived the database outage" kill -0 "$p"; done
  final_checks 0
  stop_all
}

# Ticket i's fault script for scenario f: every 10th is rate-limited twice,
# every 17th answered with garbage once, every 23rd hangs past the timeout
# once, every 50th is garbage for ever (it must end failed with its error).
f_directive() {
  local i=$1
  if ((i % 50 == 0)); then echo "[[fake garbage times=0 t=$i]]"
  elif ((i % 23 == 0)); then echo "[[fake hang times=1 t=$i]]"
  elif ((i % 17 == 0)); then echo "[[fake garbage times=1 t=$i]]"
  elif ((i % 10 == 0)); then echo "[[fake 429 times=2 retry_after=1 t=$i]]"
  fi
}
scenario_f() {
  scenario_begin f "LLM down ${LLM_DOWN_S} s, slow past the timeout, rate-limiting, garbage" || return
  start_llm TRIAGE_FAKE_LATENCY_MS=10 && start_ingest &&
    start_classifier TRIAGE_LLM_TIMEOUT=2s TRIAGE_CIRCUIT_THRESHOLD=10 TRIAGE_CIRCUIT_PROBE_INTERVAL=2s \
                     TRIAGE_RETRY_MAX_ATTEMPTS=4 || return
  gen "$WORK/f.ndjson" "$PREFIX" 0 "$N" f_directive
  local forever=$(((N + 49) / 50))
  publish "$WORK/f.ndjson" &
  local pub=$!
  wait_for_field processed $((N / 5)) 120
  log "processed $(field processed "$(state)"): the LLM goes down for $LLM_DOWN_S s"
  curl -fsS -X POST "http://127.0.0.1:$P_LLM/_fake/down" >/dev/null
  local t0=$SECONDS opened=0 before after
  sleep 5
  before=$(state)
  while [ $((SECONDS - t0)) -lt "$LLM_DOWN_S" ]; do
    [ "$(metric "$P_CL" classifier_circuit_open)" = 1 ] && opened=1
    sleep 2
  done
  after=$(state)
  check "the circuit opened while the LLM was down" [ $opened = 1 ]
  check "no ticket newly failed during the outage (failed $(field failed "$before") -> $(field failed "$after"))" \
    [ "$(field failed "$after")" -le "$(field failed "$before")" ]
  curl -fsS -X POST "http://127.0.0.1:$P_LLM/_fake/up" >/dev/null
  log "the LLM is back"
  wait $pub; check "all $N tickets published to Kafka" [ $? = 0 ]
  final_checks "$forever"
  check "classifier survived (pid $CLS)" kill -0 "$CLS"
  stop_all
}

scenario_g() {
  scenario_begin g "a classifier SIGSTOPped past its session timeout, then SIGCONT" || return
  local kcfg="TRIAGE_KAFKA_CONFIG=session.timeout.ms=6000,heartbeat.interval.ms=1000"
  start_llm TRIAGE_FAKE_LATENCY_MS=30 && start_ingest && start_classifier "$kcfg" || return
  CLS2=""
  svc_start CLS2 classifier "$P_CL2" "$kcfg" || return
  gen "$WORK/g.ndjson" "$PREFIX" 0 "$N"
  publish "$WORK/g.ndjson"; check "all $N tickets published to Kafka" [ $? = 0 ]
  wait_for_field processed $((N / 5)) 120
  local a b
  a=$(field processed "$(state)")
  log "processed $a: SIGSTOP classifier $CLS for 20 s"
  kill -STOP "$CLS"
  sleep 20
  b=$(field processed "$(state)")
  check "the other classifier took the partitions over and kept going ($a -> $b processed)" [ "$b" -gt $((a + 50)) ]
  kill -CONT "$CLS"
  log "SIGCONT"
  final_checks 0
  local calls
  calls=$(curl -fsS "http://127.0.0.1:$P_LLM/_fake/received" | sed -n 's/^{"count":\([0-9]*\).*/\1/p')
  log "LLM calls: $calls for $N tickets (at-least-once: a redelivered ticket is classified again and overwritten in place)"
  check "both classifiers alive after SIGCONT" kill -0 "$CLS" "$CLS2"
  stop_all
}

# ---- the broker cluster (scenario k) -----------------------------------------
now_ms() { date +%s%3N; }
node_pid() { kafka_node "$1"; cat "$NODE_DIR/kafka.pid"; }
# active_controller: the node id of the KRaft quorum's leader.
active_controller() {
  kafka_java org.apache.kafka.tools.MetadataQuorumCommand --bootstrap-server "$BROKERS" describe --status \
    2>/dev/null | sed -n 's/^LeaderId: *//p'
}
# leads NODE: how many partitions of the scenario's topics NODE leads.
leads() {
  local t
  for t in "$T_IN" "$T_CL" "$T_CD" "$T_DLQ"; do "$TOOL" leaders "$BROKERS" "$t" 2>/dev/null; done |
    grep -c " leader=$1 "
}
# full_isr: every partition of the scenario's topics and of the consumer
# offsets has a leader and its three replicas in sync.
full_isr() {
  local t out
  for t in "$T_IN" "$T_CL" "$T_CD" "$T_DLQ" __consumer_offsets; do
    out=$("$TOOL" leaders "$BROKERS" "$t" 2>/dev/null) && [ -n "$out" ] || return 1
    awk '/ leader=-1 / {bad = 1} {n = split(substr($4, 5), r, ","); if (n != 3) bad = 1} END {exit bad}' <<<"$out" || return 1
  done
}
wait_full_isr() { local i; for i in $(seq "$1"); do full_isr && return 0; sleep 1; done; return 1; }

# offsets_now GROUP TOPIC: faults_tool offsets, tried five times (the group's
# coordinator may be moving).
offsets_now() {
  local i
  for i in 1 2 3 4 5; do
    "$TOOL" offsets "$BROKERS" "$1" "$2" 2>>"$WORK/logs/$SC-offsets.log" && return 0
    sleep 2
  done
  return 1
}
# not_behind OLD NEW: no partition's committed offset in NEW is below OLD's.
not_behind() {
  local kv p
  for kv in $1; do
    p=${kv%%=*}
    [ "$p" = lag ] && continue
    [ "$(tr ' ' '\n' <<<"$2" | sed -n "s/^$p=//p")" -ge "${kv#*=}" ] || return 1
  done
}
# offsets_checkpoint WHEN: reads both groups' committed offsets; checks that
# none went back since the previous checkpoint.
declare -A OFFS
offsets_checkpoint() {
  local key group topic now
  for key in ingest classifier; do
    if [ $key = ingest ]; then group=$GROUP_IN topic=$T_IN; else group=$GROUP_CL topic=$T_CL; fi
    if ! now=$(offsets_now "$group" "$topic"); then
      check "$1: the $key group's committed offsets can be read" false
      continue
    fi
    if [ -n "${OFFS[$key]:-}" ]; then
      check "$1: no $key offset went back (${OFFS[$key]% lag=*} -> ${now% lag=*})" not_behind "${OFFS[$key]}" "$now"
    fi
    OFFS[$key]=$now
  done
}

# k_feed: the tickets in chunks of 100, alternately published to the inbound
# topic and uploaded, one chunk every half second, but never beyond the number
# of chunks the scenario allows in $WORK/k.allow: it lets them through in three
# parts, so that each kill lands in a flow of tickets whatever the machine's
# speed.
k_feed() {
  local i chunks=$(((N + 99) / 100))
  for ((i = 1; i < chunks; i++)); do # chunk 0 went over TLS
    while [ "$i" -ge "$(cat "$WORK/k.allow")" ]; do sleep 0.2; done
    if ((i % 2)); then upload "$WORK/k-$i.ndjson"; else publish "$WORK/k-$i.ndjson"; fi || return 1
    sleep 0.5
  done
}
# k_publish_tls FILE: publishes through the nodes' TLS listeners, trusting
# the cluster's one CA (every node's certificate is signed by it).
k_publish_tls() {
  "$BIN/triagectl" publish --quiet --brokers "$KAFKA_TLS_BROKERS" --topic "$T_IN" \
    -X security.protocol=ssl -X ssl.ca.location="$KAFKA_TLS_DIR/ca.pem" "$1" >>"$WORK/logs/$SC-publish.log" 2>&1
}
k_allow() { echo $((($1 * N / 100 + 99) / 100)) >"$WORK/k.allow.new"; mv "$WORK/k.allow.new" "$WORK/k.allow"; }

k_nodes_rss_kb() {
  local n sum=0
  for n in 1 2 3; do sum=$((sum + $(awk '$1 == "VmRSS:" {print $2}' "/proc/$(node_pid "$n")/status"))); done
  echo $sum
}

# k_classified_since MS COUNT SECONDS: waits until COUNT tickets have a
# processed_at after MS.
k_classified_since() {
  local deadline=$((SECONDS + $3)) line
  while [ $SECONDS -lt $deadline ]; do
    line=$("$TOOL" pause "$MONGO" "$DB" "$1" $(($(now_ms) - $1)) 2>/dev/null) &&
      [ "$(field classified "$line")" -ge "$2" ] && return 0
    sleep 1
  done
  return 1
}

# k_revive: what compose's `restart: unless-stopped` does for the services
# (deploy/docker-compose*.yml), for one cause only. When a partition leader
# dies with produce requests in flight, librdkafka may find the idempotent
# producer's sequence rewound and make the error fatal; the service then
# exits 1 on purpose (common/app.c) for its supervisor to start it again.
# A service of scenario k that exited so is started again here and counted
# in K_RESTARTS; one that exited for any other reason is left dead, so the
# checks that follow fail on it.
K_RESTARTS=0
k_revive() {
  local name var port pid rc group
  for name in ingest classifier classifier2; do
    case $name in
      ingest) var=ING port=$P_IN group=$GROUP_IN ;;
      classifier) var=CLS port=$P_CL group=$GROUP_CL ;;
      classifier2) var=CLS2 port=$P_CL2 group=$GROUP_CL ;;
    esac
    pid=${!var:-}
    { [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; } || continue
    wait "$pid" 2>/dev/null; rc=$?
    if [ "$rc" = 1 ] && grep -q '"fatal producer error' "$WORK/logs/k-${name%2}.log"; then
      K_RESTARTS=$((K_RESTARTS + 1))
      log "$name exited 1 on a fatal Kafka producer error: started again, as compose's restart policy does"
      svc_start "$var" "${name%2}" "$port" "${k_env[@]}" TRIAGE_KAFKA_GROUP="$group"
    else
      log "$name exited $rc, not on a fatal producer error: left dead"
    fi
  done
}
# wait_group_stable GROUP MEMBERS SECONDS: until the group is Stable with
# MEMBERS members holding every partition; prints its last state.
wait_group_stable() {
  local g deadline=$((SECONDS + $3))
  while :; do
    g=$("$TOOL" group "$BROKERS" "$1")
    if grep -q "state=Stable members=$2 assigned=3" <<<"$g" || [ $SECONDS -ge $deadline ]; then
      echo "$g"; return
    fi
    sleep 2
  done
}

# k_kill NODE WHAT PERCENT: lets the feed go on up to PERCENT of the
# tickets; once 200 more are classified, SIGKILLs the node in that flow,
# waits until 300 more are classified without it, restarts it (stack-up
# starts only what is down) and waits for its replicas to be back in sync.
# Sets PAUSE_LINE (faults_tool pause, from the kill until the restart).
k_kill() {
  local node=$1 what=$2 t_kill t_restart
  log "node $node ($what) leads $(leads "$node") of the topics' partitions"
  k_allow "$3"
  wait_for_field processed $(($(field processed "$(state)") + 200)) 120
  t_kill=$(now_ms)
  kill -9 "$(node_pid "$node")"
  log "SIGKILLed node $node"
  # Counted by processed_at, not by the processed total: a total read before
  # the kill lags behind it. The work in flight at the kill (at most the
  # classifiers' concurrency) finishes at once; 300 need the cluster.
  check "classification goes on without node $node (300 classified after the kill within 90 s)" \
    k_classified_since "$t_kill" 300 90
  k_revive
  t_restart=$(now_ms)
  PAUSE_LINE=$("$TOOL" pause "$MONGO" "$DB" "$t_kill" $((t_restart - t_kill)))
  log "after the SIGKILL of node $node: $PAUSE_LINE"
  offsets_checkpoint "node $node down"
  stack_start; check "node $node restarted ($((($(now_ms) - t_restart) / 1000)) s)" [ $? = 0 ]
  check "node $node back in every in-sync replica set" wait_full_isr 90
  offsets_checkpoint "node $node back"
}

scenario_k() {
  local c v p1 p2
  c=$(active_controller)
  [ -n "$c" ] || { log "no active controller found"; return 1; }
  # The first victim leads every partition of the scenario's topics and is
  # not the controller; the replicas are placed [v, v+1, c] (faults_tool
  # topics --leader), so that after it the leaders move to v+1 and the
  # second kill, of the controller, is of a node that leads none of them.
  v=$((c % 3 + 1))
  TOPIC_OPTS=(--leader "$v" --replicas 3)
  scenario_begin k "SIGKILL the leader of every partition (node $v), later the active controller (node $c)" || return
  TOPIC_OPTS=()
  GROUP_IN=g.$DB.in GROUP_CL=g.$DB.cl
  # The services' own consumer session (45 s), not the suite's 10 s: here no
  # consumer dies, and a session shorter than a broker's failover expels
  # members whose coordinator is moving.
  local k_env=(TRIAGE_KAFKA_CONFIG= TRIAGE_LLM_PROVIDER=local)
  start_ingest "${k_env[@]}" TRIAGE_KAFKA_GROUP="$GROUP_IN" &&
    start_classifier "${k_env[@]}" TRIAGE_KAFKA_GROUP="$GROUP_CL" &&
    svc_start CLS2 classifier "$P_CL2" "${k_env[@]}" TRIAGE_KAFKA_GROUP="$GROUP_CL" || return
  local i chunks=$(((N + 99) / 100))
  for ((i = 0; i < chunks; i++)); do
    gen "$WORK/k-$i.ndjson" "$PREFIX" $((i * 100)) $(((i + 1) * 100 < N ? (i + 1) * 100 : N))
  done
  # The first chunk goes through TLS, to the leader of each partition.
  check "100 tickets published over TLS ($KAFKA_TLS_BROKERS, the cluster's CA)" k_publish_tls "$WORK/k-0.ndjson"
  k_allow 10
  k_feed &
  FEED=$!
  wait_for_field processed $((N / 20)) 120
  offsets_checkpoint "before the kills"
  log "groups: ingest $("$TOOL" group "$BROKERS" "$GROUP_IN"); classifier $("$TOOL" group "$BROKERS" "$GROUP_CL")"

  k_kill "$v" "leader of every partition of the topics" 50
  p1=$PAUSE_LINE
  k_kill "$(active_controller)" "the active controller" 90
  p2=$PAUSE_LINE
  k_allow 100

  wait $FEED; check "all $N tickets published or uploaded" [ $? = 0 ]
  k_revive
  final_checks 0
  offsets_checkpoint "the end"
  check "both groups' committed offsets reached the ends of the partitions (ingest ${OFFS[ingest]##* }, classifier ${OFFS[classifier]##* })" \
    [ "${OFFS[ingest]##* }${OFFS[classifier]##* }" = lag=0lag=0 ]
  local g cd
  g=$(wait_group_stable "$GROUP_CL" 2 60)
  check "both classifiers are in their group and hold every partition ($g)" grep -q "state=Stable members=2 assigned=3" <<<"$g"
  cd=$("$TOOL" classified "$BROKERS" "$T_CD" 2>"$WORK/logs/k-classified.log")
  check "every ticket's result is on $T_CD, repeats identical ($cd)" grep -q "ids=$N repeated=[0-9]* differing=0" <<<"$cd"
  log "classifier outcomes: $(curl -fsS "http://127.0.0.1:$P_CL/metrics" "http://127.0.0.1:$P_CL2/metrics" |
        awk '/^triage_classifier_tickets_total/ {split($1, a, "outcome=\""); split(a[2], b, "\""); s[b[1]] += $2} END {for (k in s) printf "%s=%d ", k, s[k]}')"
  log "group changes seen: $(grep -c 'partition(s) assigned' "$WORK/logs/k-classifier.log") assignment(s) in the classifiers' logs, $(grep -c 'rejoining group' "$WORK/logs/k-classifier.log" "$WORK/logs/k-ingest.log" | awk -F: '{s += $2} END {print s}') session loss(es)"
  log "failover pauses: leader kill $p1; controller kill $p2"
  log "services started again after a fatal producer error (k_revive): $K_RESTARTS"
  log "RSS of the three Kafka nodes: $(($(k_nodes_rss_kb) / 1024)) MB (heap $TRIAGE_KAFKA_HEAP each)"
  if [ -n "$RESULTS" ]; then
    p1=$(field pause_ms "$p1") p2=$(field pause_ms "$p2")
    printf '{"bench":"broker_failover","metric":"leader_kill_pause_ms","value":%s,"unit":"ms"}\n' "${p1:-null}" >>"$RESULTS"
    printf '{"bench":"broker_failover","metric":"controller_kill_pause_ms","value":%s,"unit":"ms"}\n' "${p2:-null}" >>"$RESULTS"
    printf '{"bench":"broker_failover","metric":"nodes_rss_kb","value":%s,"unit":"kB"}\n' "$(k_nodes_rss_kb)" >>"$RESULTS"
  fi
  stop_all
}

for s in ${ONLY//,/ }; do
  type "scenario_$s" >/dev/null 2>&1 || { echo "unknown scenario $s" >&2; exit 2; }
  t=$SECONDS
  "scenario_$s" || check "scenario $s could start its services" false
  stop_all >/dev/null 2>&1
  log "scenario $s took $((SECONDS - t)) s"
done
echo
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
