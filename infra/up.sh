#!/usr/bin/env bash
# Start the local servers (all, or the ones named) and wait until each answers
# a real request. Installs what is missing on first use. Safe to run again.
#   infra/up.sh [postgres|kafka|mosquitto|influxdb|envoy ...]
set -euo pipefail
COMPONENT=up
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

servers=("$@")
((${#servers[@]})) || servers=("${ALL_SERVERS[@]}")
for s in "${servers[@]}"; do
  [[ " ${ALL_SERVERS[*]} " == *" $s "* ]] || die "unknown server '$s' (known: ${ALL_SERVERS[*]})"
done
mkdir -p "$RUN" "$CACHE"

# Started side by side: the first run spends minutes in mvn and go build, and
# a warm start is mostly waiting on the JVM and flux's start-up.
t0=$SECONDS
declare -A pids started
for s in "${servers[@]}"; do
  "$INFRA/$s.sh" start &
  pids[$s]=$!
  started[$s]=$SECONDS
done
failed=()
for s in "${servers[@]}"; do
  if wait "${pids[$s]}"; then
    log "$s ready"
  else
    failed+=("$s")
  fi
done
((${#failed[@]} == 0)) || die "could not start: ${failed[*]} (see the messages above and .run/<server>/)"
log "all ready in $((SECONDS - t0))s: ${servers[*]}"
