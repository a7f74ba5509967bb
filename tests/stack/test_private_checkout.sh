#!/usr/bin/env bash
# test_private_checkout.sh - the local stack from a checkout that PostgreSQL's
# user cannot enter (issue 19): a clone in a fresh `mktemp -d` directory (mode
# 0700, owned by whoever runs the tests; as root, as CI runs, Debian's
# postgres user cannot traverse it). The clone's stack comes up on its own
# ports, answers a real query through FerretDB, goes down, and `stack-down
# --wipe` leaves no process and no data folder of the clone anywhere.
#   test_private_checkout.sh SOURCE_DIR FAULTS_TOOL
set -uo pipefail
SRC=${1:?usage: test_private_checkout.sh SOURCE_DIR FAULTS_TOOL}
TOOL=${2:?usage: test_private_checkout.sh SOURCE_DIR FAULTS_TOOL}
PASSED=0 FAILED=0
check() { if "${@:2}"; then PASSED=$((PASSED + 1)); echo "  ok    $1"; else FAILED=$((FAILED + 1)); echo "  FAIL  $1"; fi; }

PRIV=$(mktemp -d)   # 0700
CLONE=$PRIV/triage
# The clone brings the committed tree; the stack scripts under test are the
# working tree's (copied with their times, so that the shared FerretDB binary
# is not taken for older than its source).
git clone -q "$SRC" "$CLONE" || { echo "git clone of $SRC failed"; exit 1; }
cp -a "$SRC/deploy/local/." "$CLONE/deploy/local/"

# Its own ports; the fetched tools of this checkout (Kafka jars, FerretDB)
# are shared rather than fetched again.
PORT=$((20000 + RANDOM % 10000))
next_port() { PORT=$((PORT + 1)); while (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null; do PORT=$((PORT + 1)); done; }
next_port; KPORT=$PORT; next_port; KCPORT=$PORT; next_port; MPORT=$PORT; next_port; PPORT=$PORT; next_port; KTPORT=$PORT
export TRIAGE_KAFKA_PORT=$KPORT TRIAGE_KAFKA_CONTROLLER_PORT=$KCPORT TRIAGE_KAFKA_TLS_PORT=$KTPORT TRIAGE_MONGO_PORT=$MPORT \
       TRIAGE_PG_PORT=$PPORT TRIAGE_PARTITIONS=1 TRIAGE_KAFKA_HEAP=256m \
       TRIAGE_CACHE=$(cd "$SRC/.cache" && pwd)
unset TRIAGE_RUN

# clone_procs: true when a process of the clone runs (its command line names
# the clone, or the data folder outside it).
clone_procs() {
  pgrep -f -- "$CLONE/" >/dev/null || { [ -n "${OUTSIDE:-}" ] && pgrep -f -- "$OUTSIDE" >/dev/null; }
}

no_clone_procs() { ! clone_procs; }

cleanup() {
  "$CLONE/deploy/local/stack-down" --wipe >/dev/null 2>&1
  pkill -f -- "$CLONE/" 2>/dev/null
  [ -n "${OUTSIDE:-}" ] && rm -rf "$OUTSIDE"
  rm -rf "$PRIV"
}
trap cleanup EXIT

check "the clone's parent is private (mode 700)" [ "$(stat -c %a "$PRIV")" = 700 ]
LOG=$PRIV/stack-up.log
"$CLONE/deploy/local/stack-up" >"$LOG" 2>&1; rc=$?
[ $rc = 0 ] || tail -n 30 "$LOG"
check "stack-up succeeds in the private clone" [ $rc = 0 ]
check "FerretDB answers a query on its own port ($MPORT)" "$TOOL" state "mongodb://127.0.0.1:$MPORT" private_checkout T- 0
check "Kafka answers on its own port ($KPORT)" "$TOOL" topics "127.0.0.1:$KPORT" 1 private.checkout

LOCATION=$CLONE/run/postgres.location
if [ "$(id -u)" = 0 ]; then
  OUTSIDE=$(cat "$LOCATION" 2>/dev/null)
  check "as root, the data's location is recorded in run/postgres.location" [ -n "$OUTSIDE" ]
  check "as root, the cluster lives below the postgres user's home ($OUTSIDE)" \
    bash -c "[[ '$OUTSIDE' == $(getent passwd postgres | cut -d: -f6)/triage-triage-* ]] && [ -f '$OUTSIDE/data/PG_VERSION' ]"
  check "as root, the cluster belongs to postgres" [ "$(stat -c %U "$OUTSIDE/data")" = postgres ]
  check "stack-up said where the data went" grep -q "go to $OUTSIDE" "$LOG"
else
  check "as $(id -un), the cluster stays under run/" [ -f "$CLONE/run/postgres/data/PG_VERSION" ] && [ ! -e "$LOCATION" ]
fi
check "a second stack-up finds everything up" "$CLONE/deploy/local/stack-up" >/dev/null 2>&1

"$CLONE/deploy/local/stack-down" >/dev/null 2>&1
check "after stack-down no process of the clone runs" no_clone_procs
[ -n "${OUTSIDE:-}" ] && check "stack-down keeps the data ($OUTSIDE)" [ -f "$OUTSIDE/data/PG_VERSION" ]

"$CLONE/deploy/local/stack-up" >/dev/null 2>&1
check "the stack comes up again on the kept data" "$TOOL" state "mongodb://127.0.0.1:$MPORT" private_checkout T- 0
"$CLONE/deploy/local/stack-down" --wipe >/dev/null 2>&1
check "after stack-down --wipe no process of the clone runs" no_clone_procs
if [ -n "${OUTSIDE:-}" ]; then
  check "stack-down --wipe deletes the data outside the clone" [ ! -e "$OUTSIDE" ]
fi
check "stack-down --wipe deletes the data under run/" [ ! -e "$CLONE/run/postgres" ] && [ ! -e "$LOCATION" ]

echo "$PASSED passed, $FAILED failed"
[ $FAILED = 0 ]
