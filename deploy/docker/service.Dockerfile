# syntax=docker/dockerfile:1
# One image recipe for every CerCollettiva service (user, cer, iot, energy,
# economic, notification, reporting). Build from the repository root:
#
#   docker build -f deploy/docker/service.Dockerfile --build-arg SERVICE=user -t cercollettiva/user:dev .
#
# SERVICE is the folder under services/; the uv package is "<SERVICE>-service"
# and the Python module "<SERVICE>_service" (the workspace convention).
# Adding a service needs no new Dockerfile, only a new SERVICE value.

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------- build stage
FROM ${PYTHON_IMAGE} AS build
ARG SERVICE
ARG UV_VERSION=0.13.8
RUN test -n "${SERVICE}" || (echo "--build-arg SERVICE=<name> is required" >&2; exit 1)
# uv comes from PyPI (no other registry is needed to build).
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
# Dependencies first (cached until uv.lock or a pyproject changes) ...
COPY pyproject.toml uv.lock ./
COPY libs/ libs/
COPY services/ services/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package "${SERVICE}-service" --no-install-workspace
# ... then the workspace packages themselves, installed non-editable so the
# runtime stage needs only the virtualenv.
# hadolint ignore=DL3059
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package "${SERVICE}-service"

# -------------------------------------------------------------- runtime stage
FROM ${PYTHON_IMAGE} AS runtime
ARG SERVICE
ENV CERC_SERVICE=${SERVICE} \
    PATH=/app/.venv/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CERC_MIGRATE_ON_START=true
# The reporting service lays out PDFs with weasyprint: Pango and fonts from Debian.
# hadolint ignore=DL3008
RUN if [ "${SERVICE}" = "reporting" ]; then \
      apt-get update \
      && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
      && rm -rf /var/lib/apt/lists/*; \
    fi
RUN groupadd --system --gid 10001 cerc \
 && useradd --system --uid 10001 --gid cerc --home-dir /app --shell /usr/sbin/nologin cerc
WORKDIR /app
COPY --from=build --chown=root:root /app/.venv /app/.venv
# Alembic needs its ini and versions at run time (migrations run from the image).
COPY --chown=root:root services/${SERVICE}/alembic.ini services/${SERVICE}/alembic.ini
COPY --chown=root:root services/${SERVICE}/alembic/ services/${SERVICE}/alembic/
COPY --chown=root:root --chmod=0755 deploy/docker/entrypoint.sh /usr/local/bin/cerc-entrypoint
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]
ENTRYPOINT ["/usr/local/bin/cerc-entrypoint"]
CMD ["serve"]
