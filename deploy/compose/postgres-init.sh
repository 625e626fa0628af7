#!/bin/sh
# docker-compose only: runs once in the postgres image's initdb phase (as the
# superuser) and mirrors infra/postgres.sh + infra/postgres/bootstrap-db.sh:
# one login role and one schema per service, no way into another's schema.
# DEVELOPMENT KEYS: every password here is "<service>_dev"; the services refuse
# such values outside development/test.
set -eu
SERVICES="user cer iot energy economic notification reporting"
DB="${CERC_DB:-cercollettiva}"

sql="SET client_min_messages = warning;
CREATE DATABASE \"$DB\" ENCODING 'UTF8';"
for svc in $SERVICES; do
  sql="$sql
CREATE ROLE ${svc}_svc LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '${svc}_dev';
ALTER ROLE ${svc}_svc SET search_path = \"${svc}\";"
done
printf '%s\n' "$sql" | psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d postgres

sql="SET client_min_messages = warning;
REVOKE ALL ON DATABASE \"$DB\" FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;"
for svc in $SERVICES; do
  sql="$sql
GRANT CONNECT, TEMPORARY ON DATABASE \"$DB\" TO ${svc}_svc;
CREATE SCHEMA \"$svc\" AUTHORIZATION ${svc}_svc;
REVOKE ALL ON SCHEMA \"$svc\" FROM PUBLIC;"
done
printf '%s\n' "$sql" | psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$DB"
