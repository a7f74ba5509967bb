#!/usr/bin/env bash
# Every triage_* metric an alert rule uses must be one the services export:
# a renamed metric would silently disable its alert.
set -euo pipefail
root=$1
status=0
for m in $(grep -oE 'triage_[a-z_]+' "$root/deploy/prometheus/alerts.yml" | sort -u); do
  name=${m#triage_}
  if ! grep -rqF "\"$name\"" "$root/services" "$root/common"; then
    echo "alerts.yml uses $m, which no service registers"
    status=1
  fi
done
[ $status -eq 0 ] && echo "every metric in alerts.yml is registered by a service"
exit $status
