# syntax=docker/dockerfile:1
# The web app's image: the built files and scripts/web_server.py. Build from
# the repository root:
#
#   docker build -f deploy/docker/web.Dockerfile -t cercollettiva/web:dev .
#
# Three stages: the services' OpenAPI documents are dumped from their FastAPI
# apps (Python, no server), the app is built against them (Node), and only the
# static files and the standard-library server are kept.

ARG PYTHON_IMAGE=python:3.11-slim
ARG NODE_IMAGE=node:20-slim

# ------------------------------------------------------ the API's contracts
FROM ${PYTHON_IMAGE} AS openapi
ARG UV_VERSION=0.13.8
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
ENV UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY libs/ libs/
COPY services/ services/
COPY web/scripts/dump_openapi.py web/scripts/dump_openapi.py
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --all-packages \
 && uv run --frozen --no-sync python web/scripts/dump_openapi.py /openapi

# ------------------------------------------------------------- the app
FROM ${NODE_IMAGE} AS build
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY web/ ./
COPY --from=openapi /openapi openapi/
# The documents are already dumped: generate the types from them and build.
ENV CERC_OPENAPI_DUMPED=1
RUN npm run build

# ------------------------------------------------------------ runtime stage
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 cerc \
 && useradd --system --uid 10001 --gid cerc --home-dir /app --shell /usr/sbin/nologin cerc
WORKDIR /app
COPY --chown=root:root scripts/web_server.py /app/web_server.py
COPY --from=build --chown=root:root /web/dist /app/dist
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]
CMD ["python", "/app/web_server.py", "--root", "/app/dist", "--host", "0.0.0.0", "--port", "8000"]
