#!/usr/bin/env bash
# Render a kustomization offline:  deploy/k8s/kustomize.sh deploy/k8s/overlays/dev
# Uses `kubectl kustomize` when kubectl is installed, else a kustomize binary
# cached in ${CERC_CACHE:-$HOME/.cache/cercollettiva}/bin, building it once
# with `go install` (the Go module proxy) when missing.
set -euo pipefail
dir="${1:?usage: $0 KUSTOMIZATION_DIR}"
KUSTOMIZE_VERSION="${KUSTOMIZE_VERSION:-v5.5.0}"
if command -v kubectl >/dev/null 2>&1; then
  exec kubectl kustomize "$dir"
fi
bin="${CERC_CACHE:-$HOME/.cache/cercollettiva}/bin"
if [[ ! -x "$bin/kustomize" ]]; then
  command -v go >/dev/null 2>&1 || { echo "kustomize.sh: neither kubectl nor go is installed" >&2; exit 1; }
  mkdir -p "$bin"
  echo "kustomize.sh: building kustomize $KUSTOMIZE_VERSION into $bin" >&2
  GOBIN="$bin" CGO_ENABLED=0 go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" >&2
fi
exec "$bin/kustomize" build "$dir"
