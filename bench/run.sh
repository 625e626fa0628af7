#!/usr/bin/env bash
# `make bench`: every benchmark in turn; each prints its figures and the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/tools.sh
for bench in bench/bench_*.py; do
  echo "### $bench"
  uv run python "$bench"
done
