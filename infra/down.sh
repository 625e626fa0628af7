#!/usr/bin/env bash
# Stop the local servers (all, or the ones named) cleanly. Data stays in .run/.
#   infra/down.sh [postgres|kafka|mosquitto|influxdb|envoy ...]
set -euo pipefail
COMPONENT=down
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

servers=("$@")
if ((${#servers[@]} == 0)); then
  for ((i = ${#ALL_SERVERS[@]} - 1; i >= 0; i--)); do servers+=("${ALL_SERVERS[i]}"); done
fi
rc=0
for s in "${servers[@]}"; do
  [[ " ${ALL_SERVERS[*]} " == *" $s "* ]] || die "unknown server '$s' (known: ${ALL_SERVERS[*]})"
  "$INFRA/$s.sh" stop || { log "could not stop $s"; rc=1; }
done
exit "$rc"
