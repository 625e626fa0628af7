# shellcheck shell=sh
# Connection settings of the local servers, for services, tests and Makefile
# recipes. POSIX sh, so `make` recipes can source it:
#   . infra/env.sh            (from the repo root, or set CERC_REPO first)
# Every value is a development key for 127.0.0.1 only.
if [ -n "${BASH_SOURCE:-}" ]; then
  _cerc_infra=$(cd "$(dirname "$BASH_SOURCE")" && pwd)
elif [ -n "${CERC_REPO:-}" ]; then
  _cerc_infra=$CERC_REPO/infra
else
  _cerc_infra=$(pwd)/infra
fi
if [ ! -f "$_cerc_infra/ports.env" ]; then
  echo "infra/env.sh: no ports.env in $_cerc_infra; source it from the repo root or set CERC_REPO" >&2
  return 1 2>/dev/null || exit 1
fi
set -a
. "$_cerc_infra/ports.env"
set +a

CERC_REPO=$(cd "$_cerc_infra/.." && pwd)
CERC_RUN_DIR=$CERC_REPO/.run
CERC_CACHE=${CERC_CACHE:-$HOME/.cache/cercollettiva}

CERC_PG_HOST=127.0.0.1
CERC_PG_PORT=$PG_PORT
CERC_PG_DB=cercollettiva
CERC_PG_ADMIN_DSN=postgresql://cerc_admin:cerc_admin_dev@127.0.0.1:$PG_PORT/cercollettiva
CERC_PG_TEST_DSN=postgresql://cerc_admin:cerc_admin_dev@127.0.0.1:$PG_PORT/cercollettiva_test
export CERC_REPO CERC_RUN_DIR CERC_CACHE CERC_PG_HOST CERC_PG_PORT CERC_PG_DB \
  CERC_PG_ADMIN_DSN CERC_PG_TEST_DSN
# One DSN per service role: CERC_PG_DSN_USER, CERC_PG_DSN_CER, ...
for _cerc_svc in $(grep -Ev '^[[:space:]]*(#|$)' "$_cerc_infra/services.txt"); do
  _cerc_up=$(printf '%s' "$_cerc_svc" | tr '[:lower:]' '[:upper:]')
  eval "CERC_PG_DSN_$_cerc_up=postgresql://${_cerc_svc}_svc:${_cerc_svc}_dev@127.0.0.1:$PG_PORT/cercollettiva"
  export "CERC_PG_DSN_$_cerc_up"
done

CERC_KAFKA_BOOTSTRAP=127.0.0.1:$KAFKA_PORT

CERC_MQTT_HOST=127.0.0.1
CERC_MQTT_PORT=$MQTT_PORT
CERC_MQTT_USER=cerc_bridge
CERC_MQTT_PASSWORD=cerc_bridge_dev
# Administrator of the dynamic security plugin: per-device clients and roles
# are created through it at run time (see infra/mosquitto.sh).
CERC_MQTT_ADMIN_USER=cerc_dynsec_admin
CERC_MQTT_ADMIN_PASSWORD=cerc_dynsec_dev

CERC_INFLUX_URL=http://127.0.0.1:$INFLUX_PORT
CERC_INFLUX_TOKEN=cerc:cerc_influx_dev
CERC_INFLUX_ORG=-
CERC_INFLUX_BUCKET=cercollettiva/autogen
CERC_INFLUX_DB=cercollettiva

export CERC_KAFKA_BOOTSTRAP CERC_MQTT_HOST CERC_MQTT_PORT CERC_MQTT_USER CERC_MQTT_PASSWORD \
  CERC_MQTT_ADMIN_USER CERC_MQTT_ADMIN_PASSWORD CERC_INFLUX_URL CERC_INFLUX_TOKEN CERC_INFLUX_ORG \
  CERC_INFLUX_BUCKET CERC_INFLUX_DB
# The edge fakes (tools/): the SMTP sink and its HTTP reader, the GSE simulator with its
# always-present development client and admin token.
CERC_SMTP_HOST=127.0.0.1
CERC_SMTP_PORT=$SMTP_PORT
CERC_SMTP_READER_URL=http://127.0.0.1:$SMTP_READER_PORT
CERC_GSE_URL=http://127.0.0.1:$GSE_SIM_PORT
CERC_GSE_CLIENT_ID=cerc_referente_dev
CERC_GSE_CLIENT_SECRET=cerc_referente_dev_secret
CERC_GSE_SIM_ADMIN_TOKEN=gse_sim_admin_dev
export CERC_SMTP_HOST CERC_SMTP_PORT CERC_SMTP_READER_URL CERC_GSE_URL CERC_GSE_CLIENT_ID \
  CERC_GSE_CLIENT_SECRET CERC_GSE_SIM_ADMIN_TOKEN
unset _cerc_infra _cerc_svc _cerc_up
