#!/usr/bin/env bash
# The GSE simulator (tools/gse_sim, FastAPI) on 127.0.0.1:$GSE_SIM_PORT: the GSE's side of
# the monthly loop for development and tests. State in memory: a restart forgets everything
# but the development client (see tools/gse_sim/README.md). Log and pid in .run/gse-sim/.
#   infra/gse-sim.sh install|start|stop|restart|status|ready
# Development keys (not secrets): admin token gse_sim_admin_dev (X-Admin-Token), OAuth client
# cerc_referente_dev / cerc_referente_dev_secret.
set -euo pipefail
COMPONENT=gse-sim
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

G_RUN="$RUN/gse-sim"
G_PID="$G_RUN/gse-sim.pid"
G_LOG="$G_RUN/gse-sim.log"
PY="$REPO/.venv/bin/python"
MARKER="-m gse_sim --port $GSE_SIM_PORT"
DEV_CLIENT_ID="${GSE_SIM_DEV_CLIENT_ID:-cerc_referente_dev}"
DEV_CLIENT_SECRET="${GSE_SIM_DEV_CLIENT_SECRET:-cerc_referente_dev_secret}"

cmd_install() {
  need_cmd curl curl
  if ! [[ -x "$PY" ]] || ! "$PY" -c 'import gse_sim' 2>/dev/null; then
    command -v uv >/dev/null 2>&1 || die "uv not found: run \`make install\`"
    log "gse_sim is not installed in $REPO/.venv: uv sync --frozen"
    (cd "$REPO" && uv sync --frozen >&2) || die "uv sync failed"
  fi
}

running() { pid_alive "$G_PID" "$MARKER"; }

do_start() {
  if running; then
    log "already running (pid $(pid_of "$G_PID")) on 127.0.0.1:$GSE_SIM_PORT"
  else
    rm -f "$G_PID"
    port_busy "$GSE_SIM_PORT" && die "127.0.0.1:$GSE_SIM_PORT is taken by another process (see: ss -ltnp | grep $GSE_SIM_PORT)"
    mark_log "$G_LOG"
    log "starting on 127.0.0.1:$GSE_SIM_PORT"
    # setsid: the simulator must outlive the shell (and the Ctrl-C) that started it.
    # shellcheck disable=SC2086 # MARKER is the arguments
    setsid "$PY" $MARKER >>"$G_LOG" 2>&1 </dev/null 9>&- &
    echo $! >"$G_PID"
    sleep 0.3
    running || die_with_log "$G_LOG" "the GSE simulator exited at once"
  fi
  wait_ready 30
}

cmd_start() {
  cmd_install
  mkdir -p "$G_RUN"
  with_lock gse-sim do_start
}

cmd_stop() { with_lock gse-sim stop_pid "$G_PID" "$MARKER" 20; }

cmd_status() {
  if running; then
    echo "gse-sim: running (pid $(pid_of "$G_PID")) http://127.0.0.1:$GSE_SIM_PORT"
  else
    echo "gse-sim: stopped"; return 1
  fi
}

# A real OAuth client-credentials token, then an authenticated list call.
round_trip() {
  local base="http://127.0.0.1:$GSE_SIM_PORT" token
  token="$(curl -fsS -m 5 -d grant_type=client_credentials -d "client_id=$DEV_CLIENT_ID" \
    -d "client_secret=$DEV_CLIENT_SECRET" "$base/gse/oauth/token" 2>/dev/null \
    | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')" || return 1
  [[ -n "$token" ]] || return 1
  curl -fsS -m 5 -o /dev/null -H "Authorization: Bearer $token" \
    "$base/gse/api/v1/configurations/?page_size=1" 2>/dev/null
}

wait_ready() {
  local deadline=$((SECONDS + ${1:-20}))
  until round_trip; do
    running || die_with_log "$G_LOG" "the GSE simulator exited"
    ((SECONDS < deadline)) || die_with_log "$G_LOG" "no OAuth token + authenticated call on 127.0.0.1:$GSE_SIM_PORT"
    sleep 0.3
  done
  log "ready: OAuth token and an authenticated call as $DEV_CLIENT_ID on 127.0.0.1:$GSE_SIM_PORT"
}

cmd_ready() { running || die "not running"; wait_ready 5; }

dispatch "$@"
