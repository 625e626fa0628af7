#!/usr/bin/env bash
# The local SMTP sink (tools/smtp_sink, aiosmtpd) on 127.0.0.1:$SMTP_PORT: every message is
# accepted and kept in .run/smtp-sink/messages.sqlite3, readable with
# `uv run python -m smtp_sink list|show ID|clear` or over HTTP on 127.0.0.1:$SMTP_READER_PORT
# (GET /messages, GET /messages/ID, DELETE /messages). Log and pid in .run/smtp-sink/.
#   infra/smtp-sink.sh install|start|stop|restart|status|ready
set -euo pipefail
COMPONENT=smtp-sink
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

S_RUN="$RUN/smtp-sink"
S_PID="$S_RUN/smtp-sink.pid"
S_LOG="$S_RUN/smtp-sink.log"
S_DB="$S_RUN/messages.sqlite3"
PY="$REPO/.venv/bin/python"
MARKER="-m smtp_sink --db $S_DB serve --smtp-port $SMTP_PORT --http-port $SMTP_READER_PORT"

cmd_install() {
  if ! [[ -x "$PY" ]] || ! "$PY" -c 'import smtp_sink' 2>/dev/null; then
    command -v uv >/dev/null 2>&1 || die "uv not found: run \`make install\`"
    log "smtp_sink is not installed in $REPO/.venv: uv sync --frozen"
    (cd "$REPO" && uv sync --frozen >&2) || die "uv sync failed"
  fi
}

running() { pid_alive "$S_PID" "-m smtp_sink --db $S_DB serve --smtp-port $SMTP_PORT"; }

do_start() {
  if running; then
    log "already running (pid $(pid_of "$S_PID")) on 127.0.0.1:$SMTP_PORT"
  else
    rm -f "$S_PID"
    local p
    for p in "$SMTP_PORT" "$SMTP_READER_PORT"; do
      port_busy "$p" && die "127.0.0.1:$p is taken by another process (see: ss -ltnp | grep $p)"
    done
    mark_log "$S_LOG"
    log "starting SMTP on 127.0.0.1:$SMTP_PORT, reader on 127.0.0.1:$SMTP_READER_PORT"
    # shellcheck disable=SC2086 # MARKER is the arguments
    setsid "$PY" $MARKER >>"$S_LOG" 2>&1 </dev/null 9>&- &
    echo $! >"$S_PID"
    sleep 0.3
    running || die_with_log "$S_LOG" "the SMTP sink exited at once"
  fi
  wait_ready 20
}

cmd_start() {
  cmd_install
  mkdir -p "$S_RUN"
  with_lock smtp-sink do_start
}

cmd_stop() { with_lock smtp-sink stop_pid "$S_PID" "-m smtp_sink --db $S_DB serve" 20; }

cmd_status() {
  if running; then
    echo "smtp-sink: running (pid $(pid_of "$S_PID")) smtp://127.0.0.1:$SMTP_PORT reader http://127.0.0.1:$SMTP_READER_PORT"
  else
    echo "smtp-sink: stopped"; return 1
  fi
}

# A real SMTP EHLO/NOOP and a GET /health of the reader.
wait_ready() {
  local deadline=$((SECONDS + ${1:-20}))
  until "$PY" -m smtp_sink ready >/dev/null 2>&1; do
    running || die_with_log "$S_LOG" "the SMTP sink exited"
    ((SECONDS < deadline)) || die_with_log "$S_LOG" "no SMTP EHLO/NOOP and reader /health on 127.0.0.1:$SMTP_PORT/$SMTP_READER_PORT"
    sleep 0.3
  done
  log "ready: SMTP EHLO/NOOP on 127.0.0.1:$SMTP_PORT, reader on 127.0.0.1:$SMTP_READER_PORT"
}

cmd_ready() { running || die "not running"; wait_ready 5; }

dispatch "$@"
