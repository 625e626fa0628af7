#!/usr/bin/env bash
# Install (or find in the cache) what the servers need, without starting them.
# up.sh does this by itself; this is for warming a machine or a CI cache.
#   infra/install.sh [server...]
set -euo pipefail
COMPONENT=install
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

servers=("$@")
((${#servers[@]})) || servers=("${ALL_SERVERS[@]}")
for s in "${servers[@]}"; do
  [[ " ${ALL_SERVERS[*]} " == *" $s "* ]] || die "unknown server '$s' (known: ${ALL_SERVERS[*]})"
  t0=$SECONDS
  "$INFRA/$s.sh" install
  log "$s installed ($((SECONDS - t0))s)"
done
