#!/usr/bin/env bash
# Create (if missing) a database with one schema per service, each owned by its
# service role, and no way for a service into another's schema.
#   infra/postgres/bootstrap-db.sh DBNAME [--recreate]
# Runs as cerc_admin over TCP, so it works wherever the admin DSN works
# (tests use it for `cercollettiva_test` and throwaway databases).
# Roles are cluster-wide and created by infra/postgres.sh start.
set -euo pipefail
COMPONENT=postgres
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

db="${1:-}"
recreate=false
[[ "${2:-}" == "--recreate" ]] && recreate=true
[[ "$db" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "usage: $0 DBNAME [--recreate]  (lower-case identifier)"
case "$db" in postgres | template0 | template1) die "refusing to bootstrap $db" ;; esac

# Development key, not a secret.
export PGPASSWORD=cerc_admin_dev
admin_psql() {
  psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U cerc_admin "$@"
}

if $recreate; then
  log "dropping database $db"
  admin_psql -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"
fi

admin_psql -d postgres <<SQL
SELECT format('CREATE DATABASE %I OWNER cerc_admin ENCODING ''UTF8''', '$db')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$db')
\gexec
SQL

sql="SET client_min_messages = warning;
REVOKE ALL ON DATABASE \"$db\" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE \"$db\" TO cerc_admin;
-- PostgreSQL 15 already denies CREATE on public; say it anyway for older clusters.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
"
for svc in $(services); do
  sql+="
GRANT CONNECT, TEMPORARY ON DATABASE \"$db\" TO ${svc}_svc;
CREATE SCHEMA IF NOT EXISTS \"$svc\" AUTHORIZATION ${svc}_svc;
ALTER SCHEMA \"$svc\" OWNER TO ${svc}_svc;
REVOKE ALL ON SCHEMA \"$svc\" FROM PUBLIC;
"
done
admin_psql -d "$db" <<<"$sql"

# Prove the isolation rather than trust it: each role owns its schema and can
# neither use another's nor create in public.
bad="$(admin_psql -d "$db" -t -A <<'SQL'
WITH svc AS (SELECT r.rolname, n.nspname, n.nspowner = r.oid AS owns
             FROM pg_namespace n JOIN pg_roles r ON r.rolname = n.nspname || '_svc')
SELECT 'not owner: ' || rolname FROM svc WHERE NOT owns
UNION ALL
SELECT 'create on public: ' || rolname FROM svc WHERE has_schema_privilege(rolname, 'public', 'CREATE')
UNION ALL
SELECT a.rolname || ' can use ' || b.nspname
FROM svc a JOIN svc b ON a.nspname <> b.nspname
WHERE has_schema_privilege(a.rolname, b.nspname, 'USAGE');
SQL
)"
[[ -z "$bad" ]] || die "schema isolation broken in $db: $bad"
log "database $db: schemas $(services | paste -sd, -) ok"
