#!/usr/bin/env bash
# test_keys.sh - `triagectl keys` against a real triage-api on the shared
# stack (a unique database, dropped at the end). A user creates a key, uses it, rotates it (the old
# secret stops working, the new one works), revokes it (it stops working),
# and lists keys without ever seeing a hash.
#   test_keys.sh BIN_DIR FAULTS_TOOL
set -uo pipefail
BIN=${1:?usage: test_keys.sh BIN_DIR FAULTS_TOOL}
TOOL=${2:?usage: test_keys.sh BIN_DIR FAULTS_TOOL}
DB=triage_test_keys_$(date +%s)_$RANDOM
MONGO=${TRIAGE_TEST_MONGO_URI:-${TRIAGE_TEST_MONGO:-mongodb://127.0.0.1:27017}}
PASSED=0 FAILED=0
check() { if "${@:2}"; then PASSED=$((PASSED + 1)); echo "  ok    $1"; else FAILED=$((FAILED + 1)); echo "  FAIL  $1"; fi; }
keys() { "$BIN/triagectl" keys --mongo-uri "$MONGO/$DB" --mongo-db "$DB" "$@"; }
port=$((20000 + RANDOM % 10000)); while (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; do port=$((port + 1)); done
LOG=$(mktemp)
TRIAGE_HTTP_PORT=$port TRIAGE_METRICS_PORT=0 TRIAGE_MONGO_URI="$MONGO/$DB" TRIAGE_MONGO_DB="$DB" TRIAGE_AUTH=on \
  TRIAGE_ADMIN_KEY= "$BIN/triage-api" >"$LOG" 2>&1 &
API=$!
trap 'kill $API 2>/dev/null; wait $API 2>/dev/null; rm -f "$LOG"; "$TOOL" dropdb "$MONGO" "$DB"' EXIT
up=0
for _ in $(seq 300); do curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && { up=1; break; }; sleep 0.1; done
[ $up = 1 ] || { echo "triage-api did not start:"; tail -5 "$LOG"; echo "0 passed, 1 failed"; exit 1; }
status() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" "http://127.0.0.1:$port/api/tickets?limit=1"; }

out=$(keys create --role viewer --name "dashboard reader"); rc=$?
check "keys create exits 0" [ $rc = 0 ]
id=$(sed -n 's/^id: *//p' <<<"$out"); key=$(sed -n 's/^key: *//p' <<<"$out")
check "create prints an id and a key ($id)" [ -n "$id" ] && [ -n "$key" ]
check "the new viewer key reads tickets (200)" [ "$(status "$key")" = 200 ]
check "an unknown key is refused (401)" [ "$(status tk_0000000000)" = 401 ]
list=$(keys list)
check "list shows the key as active with its name" grep -q "$id .*viewer .*active .*dashboard reader" <<<"$list"
hash=$(printf '%s' "$key" | sha256sum | cut -d' ' -f1)
check "list never shows the key or its hash" bash -c "! grep -q -e '$key' -e '$hash' <<<'$list'"

out=$(keys rotate "$id"); rc=$?
new=$(sed -n 's/^key: *//p' <<<"$out")
check "rotate exits 0 and prints a new key" [ $rc = 0 ] && [ -n "$new" ] && [ "$new" != "$key" ]
check "after rotate the old secret is refused (401)" [ "$(status "$key")" = 401 ]
check "after rotate the new secret works (200)" [ "$(status "$new")" = 200 ]

keys revoke "$id" >/dev/null; rc=$?
check "revoke exits 0" [ $rc = 0 ]
check "after revoke the key is refused (401)" [ "$(status "$new")" = 401 ]
check "list shows it revoked" grep -q "$id .*revoked" <<<"$(keys list)"
keys rotate "$id" >/dev/null 2>&1; rc=$?
check "a revoked key cannot be rotated back to life (exit $rc)" [ $rc = 1 ]
keys revoke key_doesnotexist >/dev/null 2>&1; rc=$?
check "revoking an unknown id fails (exit $rc)" [ $rc = 1 ]
keys create --role root >/dev/null 2>&1; rc=$?
check "an unknown role is a usage error (exit $rc)" [ $rc = 2 ]

# The audit log, read back through the api with an admin key made here.
admin=$(keys create --role admin --name auditor | sed -n 's/^key: *//p')
audit=$(curl -s -H "Authorization: Bearer $admin" "http://127.0.0.1:$port/api/audit?limit=100")
for a in keys.create keys.rotate keys.revoke; do
  check "audit_log records $a for $id" grep -q "\"action\":\"$a\"" <<<"$audit"
done
check "no key secret in the api's log" bash -c "! grep -q -e '$key' -e '$new' -e '$admin' '$LOG'"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
