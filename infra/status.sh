#!/usr/bin/env bash
# Print each server's state; exit 1 if any is not running.
#   infra/status.sh [--ready] [server...]   --ready also runs the readiness checks
set -euo pipefail
COMPONENT=status
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

check_ready=false
[[ "${1:-}" == --ready ]] && { check_ready=true; shift; }
servers=("$@")
((${#servers[@]})) || servers=("${ALL_SERVERS[@]}")
rc=0
for s in "${servers[@]}"; do
  [[ " ${ALL_SERVERS[*]} " == *" $s "* ]] || die "unknown server '$s' (known: ${ALL_SERVERS[*]})"
  if "$INFRA/$s.sh" status; then
    if $check_ready && ! "$INFRA/$s.sh" ready; then rc=1; fi
  else
    rc=1
  fi
done
exit "$rc"
