#!/bin/sh
# Entry point of every service image.
#   serve    (default) `alembic upgrade head` if CERC_MIGRATE_ON_START=true,
#            then uvicorn on 0.0.0.0:8000 with the service's create_app factory
#   migrate  `alembic upgrade head` and exit (the Kubernetes initContainer)
#   bridge   the service's MQTT bridge process (`python -m <service>_service.bridge`)
#   anything else is executed as given (e.g. `python -m ...` for a one-off)
set -eu

: "${CERC_SERVICE:?CERC_SERVICE is not set}"
alembic_ini="/app/services/${CERC_SERVICE}/alembic.ini"

migrate() {
  echo "cerc-entrypoint: alembic upgrade head (${CERC_SERVICE})" >&2
  alembic -c "$alembic_ini" upgrade head
}

case "${1:-serve}" in
  serve)
    if [ "${CERC_MIGRATE_ON_START:-true}" = "true" ]; then migrate; fi
    # Keep-alive longer than the gateway's upstream idle timeout (60 s), so
    # Envoy closes an idle connection first and never sends on one being closed.
    exec uvicorn --factory "${CERC_SERVICE}_service.main:create_app" \
      --host 0.0.0.0 --port 8000 --no-server-header --timeout-keep-alive 75
    ;;
  migrate)
    migrate
    ;;
  bridge)
    exec python -m "${CERC_SERVICE}_service.bridge"
    ;;
  *)
    exec "$@"
    ;;
esac
