# shellcheck shell=bash
# Common helpers for the infra/ scripts. Sourced, never executed.
# Sets REPO, INFRA, RUN, CACHE and the ports from ports.env.

INFRA="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$INFRA/.." && pwd)"
# realpath: a worktree whose .run links to another checkout's servers shares them
# (their pid files name that checkout's paths).
RUN="$(realpath -m "$REPO/.run")"
CACHE="${CERC_CACHE:-$HOME/.cache/cercollettiva}"
export CERC_CACHE="$CACHE"

set -a
# shellcheck source=ports.env
. "$INFRA/ports.env"
set +a

# The servers up.sh knows, in start order.
ALL_SERVERS=(postgres kafka mosquitto influxdb envoy smtp-sink gse-sim)

_component="${COMPONENT:-infra}"

log() { printf '[%s] %s\n' "$_component" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "$_component" "$*" >&2; exit 1; }

# mark_log LOGFILE: remember where the log ends before a start, so a failure
# shows what this start wrote rather than the previous run's shutdown.
LOG_MARK_FILE="" LOG_MARK_LINE=0
mark_log() {
  LOG_MARK_FILE="$1"
  LOG_MARK_LINE="$({ wc -l <"$1"; } 2>/dev/null || echo 0)"
}

# die_with_log LOGFILE MESSAGE: fail loudly with the last lines of a server's log.
die_with_log() {
  local logfile="$1" from=1; shift
  printf '[%s] ERROR: %s\n' "$_component" "$*" >&2
  [[ "$logfile" == "$LOG_MARK_FILE" ]] && from=$((LOG_MARK_LINE + 1))
  if [[ -f "$logfile" ]]; then
    printf '[%s] ---- last lines of %s ----\n' "$_component" "$logfile" >&2
    tail -n "+$from" "$logfile" | tail -n 40 >&2 || true
    printf '[%s] ---- end of %s ----\n' "$_component" "$logfile" >&2
  else
    printf '[%s] (no log file at %s)\n' "$_component" "$logfile" >&2
  fi
  exit 1
}

# services: the service names from services.txt (comments and blanks skipped).
services() { grep -Ev '^[[:space:]]*(#|$)' "$INFRA/services.txt"; }

# pid_alive PIDFILE MARKER: true when the pid file names a live process whose
# command line contains MARKER (guards against a recycled pid).
pid_alive() {
  local pidfile="$1" marker="$2" pid
  [[ -s "$pidfile" ]] || return 1
  pid="$(tr -dc '0-9' < "$pidfile" | head -c 10)"
  [[ -n "$pid" ]] || return 1
  proc_live "$pid" || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker"
}

pid_of() { tr -dc '0-9' < "$1"; }

# proc_live PID: exists and is not a zombie waiting for a parent to reap it.
proc_live() {
  kill -0 "$1" 2>/dev/null || return 1
  [[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]]
}

# stop_pid PIDFILE MARKER SECONDS: SIGTERM, wait, then SIGKILL as a last resort.
stop_pid() {
  local pidfile="$1" marker="$2" wait_s="${3:-30}" pid i
  if ! pid_alive "$pidfile" "$marker"; then
    rm -f "$pidfile"; log "not running"; return 0
  fi
  pid="$(pid_of "$pidfile")"
  log "stopping (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < wait_s * 5; i++)); do
    proc_live "$pid" || { rm -f "$pidfile"; log "stopped"; return 0; }
    sleep 0.2
  done
  log "did not stop within ${wait_s}s; sending SIGKILL to $pid"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

# port_busy PORT: something already listens on 127.0.0.1:PORT.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# with_lock NAME CMD...: serialise concurrent runs (two `make` targets at once).
# A server started inside must not inherit the lock's descriptor: start it
# with `9>&-`, or the lock lives as long as the server.
with_lock() {
  local name="$1"; shift
  mkdir -p "$RUN/locks"
  (
    flock -w 900 9 || die "could not take lock $RUN/locks/$name.lock within 15 minutes"
    "$@"
  ) 9>"$RUN/locks/$name.lock"
}

# ensure_apt PKG...: install the Debian packages that are missing; refresh the
# package lists only when apt does not know a package.
ensure_apt() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  [[ $EUID -eq 0 ]] || die "missing packages: ${missing[*]}; install them (apt-get install ${missing[*]}) or run as root"
  with_lock apt _apt_install "${missing[@]}"
}

_apt_install() {
  local missing=() p
  for p in "$@"; do   # another server's start may have installed it meanwhile
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  local t0=$SECONDS
  log "installing Debian packages: ${missing[*]}"
  if ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then
    log "apt does not know some of them yet: apt-get update"
    apt-get update -q >&2 || die "apt-get update failed"
  fi
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 --no-install-recommends "${missing[@]}" >&2; then
    log "apt-get install failed; refreshing the package lists once and retrying"
    apt-get update -q >&2 || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 --no-install-recommends "${missing[@]}" >&2 \
      || die "apt-get install ${missing[*]} failed"
  fi
  log "installed ${missing[*]} in $((SECONDS - t0))s"
}

# need_cmd CMD PKG: make sure a command exists, installing PKG if needed.
need_cmd() {
  command -v "$1" >/dev/null 2>&1 && return 0
  ensure_apt "$2"
  command -v "$1" >/dev/null 2>&1 || die "$1 still not found after installing $2"
}

# dispatch "$@": the common CLI of every per-server script.
dispatch() {
  local cmd="${1:-}"
  case "$cmd" in
    install | start | stop | status | ready) shift; "cmd_$cmd" "$@" ;;
    restart) shift; cmd_stop; cmd_start ;;
    *) echo "usage: $0 install|start|stop|restart|status|ready" >&2; exit 2 ;;
  esac
}
