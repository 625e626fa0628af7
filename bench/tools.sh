# Load generators for the benchmarks, installed once into the cache.
CERC_CACHE="${CERC_CACHE:-$HOME/.cache/cercollettiva}"
export PATH="$CERC_CACHE/bin:$PATH"
if ! command -v hey >/dev/null; then
  echo "bench: installing hey (HTTP load generator) into $CERC_CACHE/bin" >&2
  GOBIN="$CERC_CACHE/bin" go install github.com/rakyll/hey@v0.1.4
fi
if ! command -v vegeta >/dev/null; then
  echo "bench: installing vegeta (HTTP load generator, many URLs) into $CERC_CACHE/bin" >&2
  GOBIN="$CERC_CACHE/bin" go install github.com/tsenart/vegeta/v12@v12.13.0
fi
