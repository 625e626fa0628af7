# CerCollettiva: `make help` lists the targets. Everything runs natively on
# 127.0.0.1; the local servers install themselves on first use.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

UV_VERSION := 0.13.8
UV := uv
PYTEST_ARGS ?=

.PHONY: help install infra-up infra-down infra-status dev simulate stop test test-unit lint fmt bench settle-example web web-deps browser

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

install: ## install uv and the workspace (one lock file)
	@command -v $(UV) >/dev/null || python3 -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV) sync --locked
	bash infra/report-libs.sh

infra-up: install ## start PostgreSQL, Kafka, Mosquitto, InfluxDB, the SMTP sink and the GSE simulator
	bash infra/up.sh

infra-down: ## stop the local servers
	bash infra/down.sh

infra-status: ## show the local servers
	bash infra/status.sh

dev: infra-up web ## the whole platform with a demo community and simulated devices
	bash infra/postgres/bootstrap-db.sh cercollettiva
	$(UV) run python scripts/fleet.py up
	$(UV) run python scripts/dev_seed.py
	@# Simulated devices in the background (log and pid in .run/simulator).
	mkdir -p .run/simulator
	if [ -f .run/simulator/simulator.pid ] && kill -0 "$$(cat .run/simulator/simulator.pid)" 2>/dev/null; then \
	  echo "simulator: already running"; \
	else \
	  nohup $(UV) run python scripts/simulator.py --count 4 --interval 60 \
	    >.run/simulator/simulator.log 2>&1 & echo $$! >.run/simulator/simulator.pid; \
	fi

simulate: ## simulated meters through Mosquitto (SIM_ARGS="--count 6 --speedup 60 --duration 120")
	$(UV) run python scripts/simulator.py $(SIM_ARGS)

stop: ## stop the fleet started by `make dev` (the servers keep running; see infra-down)
	-[ -f .run/simulator/simulator.pid ] && kill "$$(cat .run/simulator/simulator.pid)" && rm -f .run/simulator/simulator.pid
	-$(UV) run python scripts/fleet.py down

test: infra-up web browser ## every test: unit, service, contract, end to end (against real servers)
	cd web && npm test --silent
	$(UV) run pytest libs services tests tools $(PYTEST_ARGS)

test-unit: install ## the tests that need no server (rules engine, gateway config, manifests)
	$(UV) run pytest libs/cacer libs/sepa libs/profiles tests/dev tests/contract/test_gateway_config.py tests/contract/test_manifests.py $(PYTEST_ARGS)

lint: install web-deps ## ruff, mypy strict, import-linter, compose schema, the web app's types (manifests are checked by make test)
	cd web && npm run --silent openapi && npm run --silent lint
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy $(wildcard libs/*/src) $(wildcard services/*/src) $(wildcard tools/*/src) scripts/simulator.py
	$(UV) run lint-imports
	$(UV) run check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml
	@# Alerting rules: syntax, then their unit tests (series in, alerts out).
	bash infra/promtool.sh check rules deploy/monitoring/rules/*.rules.yaml
	bash infra/promtool.sh test rules deploy/monitoring/tests/*.test.yaml

fmt: install ## format and fix what ruff can
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

bench: infra-up ## measure speed (figures printed, never asserted)
	bash bench/run.sh

settle-example: install ## settle the example scenario with the rules engine
	$(UV) run cer settle --input libs/cacer/examples/scenario.json --format table

# Backups (infra/backup.sh; README "Operations"). PostgreSQL: pgBackRest with
# WAL archiving; InfluxDB: influxd backup -portable. Into .run/backup.
.PHONY: backup restore
backup: ## back up PostgreSQL (base backup; WAL is archived continuously) and InfluxDB into .run/backup
	bash infra/backup.sh backup

restore: ## restore PostgreSQL and InfluxDB from .run/backup (stop the fleet first: `make stop`)
	bash infra/postgres.sh stop
	bash infra/backup.sh restore-pg
	bash infra/postgres.sh start
	bash infra/backup.sh restore-influx

# The web app (web/): React + TypeScript built by Vite into web/dist, served by
# scripts/web_server.py behind the gateway at `/`. npm keeps its cache in
# ~/.npm, so a second `npm ci` downloads nothing.
web-deps: ## install the web app's packages (npm ci, from web/package-lock.json)
	@command -v npm >/dev/null || { echo "npm (Node 20) is needed for the web app: apt-get install nodejs npm" >&2; exit 1; }
	@if [ ! -d web/node_modules ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then \
	  cd web && npm ci --no-audit --no-fund; fi

web: install web-deps ## build the web app (API types from the services' OpenAPI documents, then Vite)
	cd web && npm run build

browser: ## Debian's chromium for the browser tests (playwright-core drives it; no browser download)
	source infra/lib.sh && ensure_apt chromium
