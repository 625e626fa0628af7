#!/usr/bin/env bash
# Prometheus's promtool, for the alerting rules (`make lint`):
#   infra/promtool.sh check rules FILE...   |   infra/promtool.sh test rules FILE...
# Taken from Debian's `prometheus` package without installing it (installing
# it would enable a Prometheus server on machines with systemd): the .deb is
# downloaded with apt and only promtool (one static binary) is kept, in
# $CERC_CACHE/promtool-<version>/. `go install .../cmd/promtool` was tried
# first: it builds all of Prometheus's service discovery and did not finish
# in 30 minutes on 2 cores.
set -euo pipefail
COMPONENT=promtool
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROMTOOL_DEB_VERSION="${PROMTOOL_DEB_VERSION:-2.42.0+ds-5+deb12u1}"
dir="$CACHE/promtool-${PROMTOOL_DEB_VERSION%%+*}"
bin="$dir/promtool"

_fetch_promtool() {
  [[ -x "$bin" ]] && return 0
  command -v apt-get >/dev/null || die "apt-get is needed to fetch promtool (Debian package prometheus)"
  local tmp t0=$SECONDS
  tmp="$(mktemp -d)"
  log "fetching promtool from Debian's prometheus $PROMTOOL_DEB_VERSION"
  if ! (cd "$tmp" && apt-get download -q "prometheus=$PROMTOOL_DEB_VERSION" >&2); then
    log "apt does not know it yet: apt-get update"
    [[ $EUID -eq 0 ]] || die "run as root once, or: apt-get update"
    apt-get update -q >&2 || die "apt-get update failed"
    # A point release may have replaced the pinned build: take the candidate then.
    (cd "$tmp" && apt-get download -q "prometheus=$PROMTOOL_DEB_VERSION" >&2) \
      || (cd "$tmp" && apt-get download -q prometheus >&2) \
      || die "apt-get download prometheus failed (apt-cache policy prometheus lists what apt has)"
  fi
  dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x"
  mkdir -p "$dir"
  install -m 0755 "$tmp/x/usr/bin/promtool" "$bin.tmp" && mv "$bin.tmp" "$bin"
  rm -rf "$tmp"
  log "promtool in $bin ($((SECONDS - t0))s)"
}

with_lock promtool _fetch_promtool
exec "$bin" "$@"
