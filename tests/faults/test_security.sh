#!/usr/bin/env bash
# test_security.sh - retention and PII in logs, on the shared stack (its own
# database and topics, removed at the end), with the real services:
#   - tickets carrying an e-mail address go through ingest, the classifier
#     (through the fake LLM, one answered with garbage until it fails) and
#     the api at log level debug: the address appears in no service log;
#   - the api's retention job with TRIAGE_RETENTION_MODE=anonymise rewrites
#     only the tickets older than TRIAGE_RETENTION_DAYS (subject and body
#     PII-masked, classification kept) and records the run in audit_log;
#     with purge it deletes them; newer tickets are untouched.
#   test_security.sh BIN_DIR FAULTS_TOOL
set -uo pipefail
BIN=${1:?usage: test_security.sh BIN_DIR FAULTS_TOOL}
TOOL=${2:?usage: test_security.sh BIN_DIR FAULTS_TOOL}
TAG=$(date +%s)_$RANDOM
DB=triage_test_sec_$TAG
MONGO=${TRIAGE_TEST_MONGO_URI:-${TRIAGE_TEST_MONGO:-mongodb://127.0.0.1:27017}}
BROKERS=${TRIAGE_TEST_KAFKA_BROKERS:-${TRIAGE_TEST_BROKERS:-127.0.0.1:9092}}
TOPICS=(sec.$TAG.inbound sec.$TAG.classify sec.$TAG.classified sec.$TAG.dlq)
KEY=$(head -c 32 /dev/urandom | base64 | tr -dc "A-Za-z0-9")  # random per run: never a key written down
EMAIL=jane.doe.$RANDOM@example.com
LOGS=$(mktemp -d)
PASSED=0 FAILED=0
check() { if "${@:2}"; then PASSED=$((PASSED + 1)); echo "  ok    $1"; else FAILED=$((FAILED + 1)); echo "  FAIL  $1"; fi; }
# next_port: sets PORT to a free port above the last one handed out (run in
# this shell, not in $(...), so two calls never return the same port).
PORT=$((20000 + RANDOM % 10000))  # below the ephemeral range (32768+), where client sockets would race us
next_port() { PORT=$((PORT + 1)); while (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null; do PORT=$((PORT + 1)); done; }
next_port; P_LLM=$PORT; next_port; P_IN=$PORT; next_port; P_CL=$PORT; next_port; P_API=$PORT
ENV=(TRIAGE_MONGO_URI="$MONGO/$DB" TRIAGE_MONGO_DB="$DB" TRIAGE_KAFKA_BROKERS="$BROKERS"
     TRIAGE_TOPIC_INBOUND="${TOPICS[0]}" TRIAGE_TOPIC_CLASSIFY="${TOPICS[1]}"
     TRIAGE_TOPIC_CLASSIFIED="${TOPICS[2]}" TRIAGE_TOPIC_DLQ="${TOPICS[3]}" TRIAGE_KAFKA_GROUP="sec.$TAG"
     TRIAGE_ADMIN_KEY="$KEY" TRIAGE_LOG_LEVEL=debug TRIAGE_LLM_PROVIDER=openai TRIAGE_LLM_MODEL=fake
     TRIAGE_LLM_API_KEY=sk-sec TRIAGE_LLM_URL="http://127.0.0.1:$P_LLM/v1" TRIAGE_RETRY_BASE=100ms
     TRIAGE_RETRY_CAP=200ms TRIAGE_RETRY_MAX_ATTEMPTS=2)
PIDS=()
start() { # start NAME PORT ENV...: pid in $LAST
  local name=$1 port=$2; shift 2
  env "${ENV[@]}" TRIAGE_HTTP_PORT="$port" TRIAGE_METRICS_PORT=0 "$@" "$BIN/triage-$name" >>"$LOGS/$name.log" 2>&1 &
  LAST=$!; PIDS+=("$LAST")
  for _ in $(seq 300); do curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && return 0; sleep 0.1; done
  echo "$name did not start"; tail -5 "$LOGS/$name.log"; return 1
}
stop() { kill -TERM "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  "$TOOL" deltopics "$BROKERS" "${TOPICS[@]}" >/dev/null 2>&1
  "$TOOL" dropdb "$MONGO" "$DB" >/dev/null 2>&1
  rm -rf "$LOGS"
}
trap cleanup EXIT
api_get() { curl -sS -H "Authorization: Bearer $KEY" "http://127.0.0.1:$P_API$1"; }

"$TOOL" topics "$BROKERS" 2 "${TOPICS[@]}" || exit 1
start fake-llm "$P_LLM" && start ingest "$P_IN" && start classifier "$P_CL" && CL=$LAST &&
  start api "$P_API" || exit 1
API=$LAST
old=2020-01-15T10:00:00Z
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
{
  printf '{"id":"SEC-000000","subject":"Reset for %s","body":"Please write to %s about the SSO login","created_at":"%s"}\n' "$EMAIL" "$EMAIL" $old
  printf '{"id":"SEC-000001","subject":"Card 4111 1111 1111 1111","body":"From %s [[fake garbage times=0 t=1]]","created_at":"%s"}\n' "$EMAIL" $old
  printf '{"id":"SEC-000002","subject":"Lineage graph","body":"Contact %s [[fake 429 times=1 t=2]]","created_at":"%s"}\n' "$EMAIL" $old
  printf '{"id":"SEC-000003","subject":"New one from %s","body":"Mail %s please","created_at":"%s"}\n' "$EMAIL" "$EMAIL" "$now"
  printf '{"id":"SEC-000004","subject":"Connector question","body":"How do I configure the connector? %s","created_at":"%s"}\n' "$EMAIL" "$now"
} >"$LOGS/tickets.ndjson"
"$BIN/triagectl" upload --quiet --url "http://127.0.0.1:$P_IN" --key "$KEY" "$LOGS/tickets.ndjson" >/dev/null
check "5 tickets uploaded" [ $? = 0 ]
st=""
for _ in $(seq 120); do
  st=$("$TOOL" state "$MONGO" "$DB" SEC- 5 2>/dev/null)
  [[ $st == *"processed=4 failed=1 pending=0"* ]] && break
  sleep 0.5
done
check "4 classified, the garbage one failed with its error ($st)" grep -q "processed=4 failed=1 pending=0" <<<"$st"
api_get "/api/tickets?q=$EMAIL" >/dev/null

# Retention, anonymise.
stop "$API"
start api "$P_API" TRIAGE_RETENTION_DAYS=30 TRIAGE_RETENTION_MODE=anonymise TRIAGE_RETENTION_INTERVAL=1s || exit 1
API=$LAST
audit=""
for _ in $(seq 60); do
  audit=$(api_get "/api/audit?action=retention.anonymise")
  grep -q '"changed":3' <<<"$audit" && break
  sleep 0.5
done
check "an anonymise run is in audit_log with changed=3" grep -q '"changed":3' <<<"$audit"
t0=$(api_get /api/tickets/SEC-000000)
check "an old ticket's body is masked ([EMAIL], no address)" bash -c "grep -q '\[EMAIL\]' <<<'$t0' && ! grep -q '$EMAIL' <<<'$t0'"
check "the old ticket keeps its classification" grep -q '"topic_tags"' <<<"$t0"
t1=$(api_get /api/tickets/SEC-000001)
check "the old failed ticket's card number is masked" bash -c "grep -q '\[CARD\]' <<<'$t1' && ! grep -q '4111 1111' <<<'$t1'"
t3=$(api_get /api/tickets/SEC-000003)
check "a recent ticket is untouched" grep -q "$EMAIL" <<<"$t3"
sleep 2
later=$(api_get "/api/audit?action=retention.anonymise")
check "later runs are recorded and find nothing new (changed=0)" grep -q '"changed":0' <<<"$later"

# Retention, purge.
stop "$API"
start api "$P_API" TRIAGE_RETENTION_DAYS=30 TRIAGE_RETENTION_MODE=purge TRIAGE_RETENTION_INTERVAL=1s || exit 1
API=$LAST
for _ in $(seq 60); do
  audit=$(api_get "/api/audit?action=retention.purge")
  grep -q '"changed":3' <<<"$audit" && break
  sleep 0.5
done
check "a purge run is in audit_log with changed=3" grep -q '"changed":3' <<<"$audit"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" "http://127.0.0.1:$P_API/api/tickets/SEC-000000")
check "a purged ticket is gone (404, got $code)" [ "$code" = 404 ]
st=$("$TOOL" state "$MONGO" "$DB" SEC- 5 2>/dev/null)
check "the two recent tickets remain ($st)" grep -q "present=2 " <<<"$st"
"$BIN/triagectl" check --mongo-uri "$MONGO/$DB" --mongo-db "$DB" >/dev/null 2>&1
check "triagectl check is consistent after retention" [ $? = 0 ]

for p in "${PIDS[@]}"; do stop "$p"; done
lines=$(cat "$LOGS"/*.log | wc -l)
check "the services logged ($lines lines at debug level)" [ "$lines" -gt 20 ]
leaks=$(grep -l -F "$EMAIL" "$LOGS"/*.log | xargs -r -n1 basename)
check "the e-mail address appears in no service log${leaks:+ (found in: $leaks)}" [ -z "$leaks" ]
check "the admin key appears in no service log" bash -c "! grep -q -F '$KEY' '$LOGS'/*.log"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
