#!/usr/bin/env bash
# test_kafka_tls.sh - the services over Kafka's TLS listener of the local
# stack (stack-up makes its CA and certificate with openssl, subjectAltName
# IP:127.0.0.1). Issue 14:
#   - triagectl publish (librdkafka, idempotent, acks=all) delivers raw
#     tickets through TLS, trusting the stack's CA (ssl.ca.location);
#   - triage-ingest consumes them and produces classification requests, and
#     triage-classifier consumes those and produces results, both with
#     TRIAGE_KAFKA_CONFIG=security.protocol=ssl,... : every ticket ends up
#     stored and classified, and the results are published;
#   - a client trusting another CA is refused (certificate verify failed),
#     and so is a plain-text client on the TLS port.
#   test_kafka_tls.sh SOURCE_DIR BIN_DIR FAULTS_TOOL
set -uo pipefail
SRC=${1:?usage: test_kafka_tls.sh SOURCE_DIR BIN_DIR FAULTS_TOOL}
BIN=${2:?usage: test_kafka_tls.sh SOURCE_DIR BIN_DIR FAULTS_TOOL}
TOOL=${3:?usage: test_kafka_tls.sh SOURCE_DIR BIN_DIR FAULTS_TOOL}
source "$SRC/deploy/local/env.sh"
TAG=$(date +%s)_$RANDOM
DB=triage_test_tls_$TAG
MONGO=${TRIAGE_TEST_MONGO_URI:-mongodb://127.0.0.1:27017}
PLAIN=${TRIAGE_TEST_KAFKA_BROKERS:-127.0.0.1:9092}
TLS=$KAFKA_HOST:$KAFKA_TLS_PORT
CA=$KAFKA_TLS_DIR/ca.pem
TOPICS=(tls.$TAG.inbound tls.$TAG.classify tls.$TAG.classified tls.$TAG.dlq)
WORK=$(mktemp -d)
N=20
PASSED=0 FAILED=0
check() { if "${@:2}"; then PASSED=$((PASSED + 1)); echo "  ok    $1"; else FAILED=$((FAILED + 1)); echo "  FAIL  $1"; fi; }
PORT=$((20000 + RANDOM % 10000))
next_port() { PORT=$((PORT + 1)); while (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null; do PORT=$((PORT + 1)); done; }
next_port; P_IN=$PORT; next_port; P_CL=$PORT; next_port; P_BAD=$PORT
ENV=(TRIAGE_MONGO_URI="$MONGO/$DB" TRIAGE_MONGO_DB="$DB" TRIAGE_KAFKA_BROKERS="$TLS"
     TRIAGE_KAFKA_CONFIG="security.protocol=ssl,ssl.ca.location=$CA"
     TRIAGE_TOPIC_INBOUND="${TOPICS[0]}" TRIAGE_TOPIC_CLASSIFY="${TOPICS[1]}"
     TRIAGE_TOPIC_CLASSIFIED="${TOPICS[2]}" TRIAGE_TOPIC_DLQ="${TOPICS[3]}" TRIAGE_KAFKA_GROUP="tls.$TAG"
     TRIAGE_AUTH=off TRIAGE_LOG_LEVEL=info TRIAGE_LLM_PROVIDER=local TRIAGE_METRICS_PORT=0)
PIDS=()
start() { # start NAME PORT ENV...
  local name=$1 port=$2; shift 2
  env "${ENV[@]}" TRIAGE_HTTP_PORT="$port" "$@" "$BIN/triage-$name" >>"$WORK/$name-$port.log" 2>&1 &
  PIDS+=("$!")
  for _ in $(seq 300); do curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && return 0; sleep 0.1; done
  echo "$name did not start"; tail -5 "$WORK/$name-$port.log"; return 1
}
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  "$TOOL" deltopics "$PLAIN" "${TOPICS[@]}" >/dev/null 2>&1
  "$TOOL" dropdb "$MONGO" "$DB" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

check "the stack's CA exists ($CA)" [ -s "$CA" ]
check "the broker's certificate names IP:127.0.0.1" \
  bash -c "openssl x509 -in '$KAFKA_TLS_DIR/server.pem' -noout -ext subjectAltName | grep -q 'IP Address:127.0.0.1'"
"$TOOL" topics "$PLAIN" 2 "${TOPICS[@]}" >/dev/null || { echo "could not create topics"; exit 1; }
start ingest "$P_IN" && start classifier "$P_CL" || exit 1

for i in $(seq 0 $((N - 1))); do
  printf '{"id":"TLS-%s-%06d","subject":"Snowflake crawl fails","body":"The nightly crawl of our warehouse stopped with a permission error, ticket %d."}\n' "$TAG" "$i" "$i"
done >"$WORK/tickets.ndjson"
out=$("$BIN/triagectl" publish --quiet --topic "${TOPICS[0]}" --brokers "$TLS" \
        -X security.protocol=ssl -X ssl.ca.location="$CA" "$WORK/tickets.ndjson" 2>&1); rc=$?
check "triagectl publish delivers $N tickets through TLS (idempotent, acks=all)" [ $rc = 0 ]
[ $rc = 0 ] || echo "$out" | tail -3

state=""
for _ in $(seq 120); do
  state=$("$TOOL" state "$MONGO" "$DB" "TLS-$TAG-" $N 2>/dev/null)
  grep -q "present=$N processed=$N " <<<"$state" && break
  sleep 0.5
done
check "ingest and the classifier, over TLS only, store and classify all $N ($state)" \
  grep -q "present=$N processed=$N " <<<"$state"
published=0
for _ in $(seq 20); do
  published=$("$TOOL" count "$PLAIN" "${TOPICS[2]}" 2>/dev/null || echo 0)
  [ "$published" -ge $N ] && break
  sleep 0.5
done
check "the classifier published its $N results through TLS ($published)" [ "$published" -ge $N ]

mkdir -p "$WORK/other"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=another CA" \
  -keyout "$WORK/other/ca.key" -out "$WORK/other/ca.pem" >/dev/null 2>&1
out=$("$BIN/triagectl" publish --quiet --topic "${TOPICS[0]}" --brokers "$TLS" -X security.protocol=ssl \
        -X ssl.ca.location="$WORK/other/ca.pem" -X message.timeout.ms=5000 "$WORK/tickets.ndjson" 2>&1); rc=$?
check "a client trusting another CA is refused" [ $rc != 0 ]
check "... because the broker's certificate does not verify" grep -q "certificate verify failed" <<<"$out"
out=$("$BIN/triagectl" publish --quiet --topic "${TOPICS[0]}" --brokers "$TLS" \
        -X message.timeout.ms=5000 "$WORK/tickets.ndjson" 2>&1); rc=$?
check "a plain-text client on the TLS port is refused" [ $rc != 0 ]
start ingest "$P_BAD" TRIAGE_KAFKA_CONFIG="security.protocol=ssl,ssl.ca.location=$WORK/other/ca.pem" \
  TRIAGE_KAFKA_GROUP="tls.$TAG.bad"
code=""
for _ in $(seq 40); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P_BAD/readyz")
  [ "$code" = 503 ] && break
  sleep 0.25
done
check "ingest trusting another CA is not ready (/readyz $code)" [ "$code" = 503 ]
check "... and logs why" grep -q "certificate verify failed" "$WORK/ingest-$P_BAD.log"

echo "$PASSED passed, $FAILED failed"
[ $FAILED = 0 ]
