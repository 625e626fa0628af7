#!/usr/bin/env bash
# Create the test database (default `cercollettiva_test`) with the same schemas
# and grants as the development one. --recreate drops it first.
#   infra/pg-test-db.sh [DBNAME] [--recreate]
# Tests that need throwaway databases can call infra/postgres/bootstrap-db.sh
# directly, or CREATE DATABASE as cerc_admin (it has CREATEDB).
set -euo pipefail
args=("$@")
if [[ ${#args[@]} -eq 0 || "${args[0]}" == --* ]]; then args=(cercollettiva_test "${args[@]}"); fi
exec "$(dirname "${BASH_SOURCE[0]}")/postgres/bootstrap-db.sh" "${args[@]}"
