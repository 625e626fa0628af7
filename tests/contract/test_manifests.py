"""Deployment artefacts, checked offline: compose, Kubernetes, the service image.

No Docker engine and no cluster here: the compose file is validated against
the compose specification, the kustomize overlays are rendered (kubectl
kustomize, or a cached kustomize binary) and every resource is validated with
kubernetes-validate --strict, then held to the house rules.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "docker" / "service.Dockerfile"
RENDER = ROOT / "gateway" / "render.py"

# Hosts that must never appear in an image reference: images go by short name.
REGISTRY_HOST = re.compile(r"^[^/]*[.:][^/]*/")


def tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{name} is not installed: `uv sync` installs it (root dev group)")
    return str(path)


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)


def fleet() -> list[str]:
    """The seven services, as infra/services.txt lists them."""
    return (ROOT / "infra" / "services.txt").read_text().split()


def built_services() -> set[str]:
    """Services whose code exists in the repository today."""
    return {p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml")}


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def render_overlay(name: str, tmp: Path) -> Path:
    result = run(str(K8S / "kustomize.sh"), str(K8S / "overlays" / name))
    assert result.returncode == 0, f"kustomize build overlays/{name} failed:\n{result.stderr}"
    out = tmp / f"{name}.yaml"
    out.write_text(result.stdout)
    return out


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp("k8s")
    return {name: load_all(render_overlay(name, tmp)) for name in OVERLAYS}


@pytest.fixture(scope="module")
def gateway_services() -> dict[str, tuple[str, int]]:
    """service -> (host, port) of its Envoy cluster, from the committed k8s render."""
    config = yaml.safe_load((K8S / "base" / "gateway" / "envoy.yaml").read_text())
    listener = next(x for x in config["static_resources"]["listeners"] if x["name"] == "api")
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    routes = hcm["route_config"]["virtual_hosts"][0]["routes"]
    routed = {r["route"]["cluster"] for r in routes if "route" in r}
    services = {}
    for cluster in config["static_resources"]["clusters"]:
        if cluster["name"] in routed:
            lb = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]
            address = lb["endpoint"]["address"]["socket_address"]
            services[cluster["name"].removeprefix("svc_")] = (
                address["address"],
                address["port_value"],
            )
    return services


# --------------------------------------------------------------------------- compose


def test_compose_file_follows_the_compose_spec() -> None:
    result = run(tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE))
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_services_are_healthchecked_and_ordered() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    for required in ("postgres", "kafka", "mosquitto", "influxdb", "gateway"):
        assert required in services, required
    for name, spec in services.items():
        assert "healthcheck" in spec, f"{name} has no healthcheck"
        assert not REGISTRY_HOST.match(spec["image"]), f"{name}: registry host in {spec['image']}"
    for name in built_services():
        spec = services[name]
        assert spec["build"]["dockerfile"] == "deploy/docker/service.Dockerfile"
        assert spec["build"]["args"]["SERVICE"] == name
        conditions = {dep: v["condition"] for dep, v in spec["depends_on"].items()}
        assert conditions["postgres"] == "service_healthy"
        assert conditions["kafka"] == "service_healthy"
        assert spec["environment"][f"CERC_{name.upper()}_ENVIRONMENT"] == "development"
    assert services["influxdb"]["environment"]["INFLUXDB_HTTP_FLUX_ENABLED"] == "true"
    # The gateway runs the committed k8s render: same names, same ports.
    assert any(
        v.startswith("./deploy/k8s/base/gateway/envoy.yaml:")
        for v in services["gateway"]["volumes"]
    )


# --------------------------------------------------------------------------- kubernetes


def base_resource_files() -> list[Path]:
    skip = {"kustomization.yaml", "envoy.yaml"}
    return sorted(p for p in (K8S / "base").rglob("*.yaml") if p.name not in skip)


def test_base_resources_validate_strictly() -> None:
    files = base_resource_files()
    assert any(p.name == "secret.template.yaml" for p in files)
    result = run(tool("kubernetes-validate"), "--strict", *map(str, files))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rendered_overlay_validates_strictly(overlay: str, tmp_path: Path) -> None:
    path = render_overlay(overlay, tmp_path)
    result = run(tool("kubernetes-validate"), "--strict", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed" in result.stdout + result.stderr


def _deployments(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The workloads: Deployments, and the bridge's StatefulSet."""
    return [d for d in docs if d["kind"] in {"Deployment", "StatefulSet"}]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployment_is_locked_down(
    overlay: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    deployments = _deployments(rendered[overlay])
    assert {d["metadata"]["name"] for d in deployments} >= {"gateway", *built_services()}
    for deployment in deployments:
        name = deployment["metadata"]["name"]
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod.get("automountServiceAccountToken") is False, name
        containers = pod["containers"] + pod.get("initContainers", [])
        for c in containers:
            where = f"{name}/{c['name']}"
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][kind]), where
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            assert not REGISTRY_HOST.match(c["image"]), f"{where}: registry host in {c['image']}"
        for c in pod["containers"]:
            assert "livenessProbe" in c and "readinessProbe" in c, f"{name}/{c['name']}"
        if name in fleet():
            app = next(c for c in pod["containers"] if c["name"] == name)
            assert app["livenessProbe"]["httpGet"]["path"] == "/healthz"
            assert app["readinessProbe"]["httpGet"]["path"] == "/readyz"
            # Migrations run before the app: an initContainer of the same image.
            init = {c["name"]: c for c in pod.get("initContainers", [])}
            assert init["migrate"]["image"] == app["image"]
            assert init["migrate"]["args"] == ["migrate"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_references_resolve(overlay: str, rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = rendered[overlay]
    present = {(d["kind"], d["metadata"]["name"]) for d in docs}
    # Secrets a template documents may come from outside the build (prod).
    templated = {
        d["metadata"]["name"]
        for p in (K8S / "base").rglob("secret.template.yaml")
        for d in load_all(p)
    }
    for deployment in _deployments(docs):
        pod = deployment["spec"]["template"]["spec"]
        for c in pod["containers"] + pod.get("initContainers", []):
            for source in c.get("envFrom", []):
                if "configMapRef" in source:
                    assert ("ConfigMap", source["configMapRef"]["name"]) in present
                if "secretRef" in source:
                    secret = source["secretRef"]["name"]
                    assert ("Secret", secret) in present or secret in templated, secret
        for volume in pod.get("volumes", []):
            if "configMap" in volume:
                assert ("ConfigMap", volume["configMap"]["name"]) in present
    for d in docs:
        if d["kind"] == "Secret":
            # Only development overlays generate secrets, and only with dev keys.
            assert overlay == "dev", f"{overlay} must not ship a Secret"


def test_secret_templates_hold_only_placeholders() -> None:
    for path in (K8S / "base").rglob("secret.template.yaml"):
        text = path.read_text()
        assert "TEMPLATE ONLY" in text
        for doc in load_all(path):
            for key, value in doc["stringData"].items():
                assert "PLACEHOLDER" in value, f"{path}: {key} is not a placeholder"
        kustomization = (path.parent / "kustomization.yaml").read_text()
        assert "- secret.template.yaml" not in kustomization


def test_overlays_differ_where_they_should(rendered: dict[str, list[dict[str, Any]]]) -> None:
    def replicas(docs: list[dict[str, Any]]) -> dict[str, int]:
        return {d["metadata"]["name"]: d["spec"]["replicas"] for d in _deployments(docs)}

    def images(docs: list[dict[str, Any]]) -> set[str]:
        return {
            c["image"]
            for d in _deployments(docs)
            for c in d["spec"]["template"]["spec"]["containers"]
        }

    assert all(n == 1 for n in replicas(rendered["dev"]).values())
    assert all(n >= 2 for n in replicas(rendered["prod"]).values())
    assert all(":" in image for image in images(rendered["prod"])), "untagged image in prod"
    assert images(rendered["dev"]) != images(rendered["prod"])


# --------------------------------------------------------------------------- scaling, disruption


def _selects(selector: dict[str, Any], workload: dict[str, Any]) -> bool:
    labels = workload["spec"]["template"]["metadata"]["labels"]
    return bool(selector["matchLabels"]) and selector["matchLabels"].items() <= labels.items()


def test_stateless_services_and_the_gateway_scale_on_cpu(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    docs = rendered["prod"]
    workloads = {d["metadata"]["name"]: d for d in _deployments(docs)}
    hpas = {d["metadata"]["name"]: d for d in docs if d["kind"] == "HorizontalPodAutoscaler"}
    stateless = {
        name
        for name, d in workloads.items()
        if d["kind"] == "Deployment"
        and d["metadata"]["labels"].get("app.kubernetes.io/component") != "worker"
    }
    assert stateless >= {"gateway", *built_services()}
    assert set(hpas) == stateless
    for name, hpa in hpas.items():
        spec = hpa["spec"]
        assert spec["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        assert spec["minReplicas"] >= 2 and spec["maxReplicas"] > spec["minReplicas"], name
        # The HPA starts from the overlay's replicas, not below them.
        assert spec["minReplicas"] <= workloads[name]["spec"]["replicas"], name
        (metric,) = spec["metrics"]
        assert metric["resource"]["name"] == "cpu"
        assert metric["resource"]["target"]["type"] == "Utilization"
        # Utilisation is measured against the request: there must be one.
        container = workloads[name]["spec"]["template"]["spec"]["containers"][0]
        assert container["resources"]["requests"]["cpu"], name
    # The bridge's pods are MQTT sessions: not autoscaled.
    assert "iot-bridge" not in hpas


def test_every_replicated_workload_has_a_disruption_budget_and_spreads(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    docs = rendered["prod"]
    pdbs = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    for workload in _deployments(docs):
        name = workload["metadata"]["name"]
        replicas = workload["spec"]["replicas"]
        budgets = [p for p in pdbs if _selects(p["spec"]["selector"], workload)]
        assert len(budgets) == 1, f"{name}: {len(budgets)} PodDisruptionBudgets"
        spec = budgets[0]["spec"]
        # A budget that allows no eviction at all would block every node drain.
        allowed = (
            replicas - spec["minAvailable"] if "minAvailable" in spec else spec["maxUnavailable"]
        )
        assert 1 <= allowed < replicas, name
        pod = workload["spec"]["template"]["spec"]
        (term,) = pod["affinity"]["podAntiAffinity"][
            "preferredDuringSchedulingIgnoredDuringExecution"
        ]
        assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname", name
        assert _selects(term["podAffinityTerm"]["labelSelector"], workload), name
        (zone,) = pod["topologySpreadConstraints"]
        assert zone["topologyKey"] == "topology.kubernetes.io/zone", name
        assert _selects(zone["labelSelector"], workload), name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_bridge_is_a_statefulset_whose_pod_name_is_its_mqtt_client_id(
    overlay: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    docs = rendered[overlay]
    named = {d["kind"] for d in docs if d["metadata"]["name"] == "iot-bridge"}
    assert "Deployment" not in named
    (bridge,) = [d for d in _deployments(docs) if d["metadata"]["name"] == "iot-bridge"]
    assert bridge["kind"] == "StatefulSet"
    governing = next(
        d
        for d in docs
        if d["kind"] == "Service" and d["metadata"]["name"] == bridge["spec"]["serviceName"]
    )
    assert governing["spec"]["clusterIP"] == "None"
    assert (
        governing["spec"]["selector"].items()
        <= bridge["spec"]["template"]["metadata"]["labels"].items()
    )
    (container,) = bridge["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    # A replaced pod keeps its name (iot-bridge-0), hence its MQTT session.
    source = env["CERC_IOT_BRIDGE_CLIENT_ID"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert source == "metadata.name"
    assert "volumeClaimTemplates" not in bridge["spec"]  # its state is in PostgreSQL and the broker


# --------------------------------------------------------------------------- gateway <-> fleet


def test_gateway_routes_the_whole_fleet_and_nothing_else(
    gateway_services: dict[str, tuple[str, int]],
) -> None:
    # The services, and the web app's static server at `/`.
    assert set(gateway_services) == {*fleet(), "web"}
    for service, (host, port) in gateway_services.items():
        assert (host, port) == (service, 8000)


def test_every_deployed_service_has_a_route_and_every_built_one_is_deployed(
    gateway_services: dict[str, tuple[str, int]], rendered: dict[str, list[dict[str, Any]]]
) -> None:
    compose = yaml.safe_load(COMPOSE.read_text())["services"]
    compose_apps = {n for n, s in compose.items() if "build" in s}
    for overlay, docs in rendered.items():
        # Workers (e.g. the MQTT bridge) serve no HTTP: nothing to route.
        k8s_apps = {
            d["metadata"]["name"]
            for d in _deployments(docs)
            if d["metadata"]["name"] != "gateway"
            and d["metadata"]["labels"].get("app.kubernetes.io/component") != "worker"
        }
        # Deployed -> routed.
        assert k8s_apps <= set(gateway_services), overlay
        # Built -> deployed, in every overlay.
        assert built_services() <= k8s_apps, overlay
        # The Service the gateway dials exists, on the port it dials.
        services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
        for app in k8s_apps:
            host, port = gateway_services[app]
            assert port in [p["port"] for p in services[host]["spec"]["ports"]], app
    assert compose_apps <= set(gateway_services)
    assert built_services() <= compose_apps


# --------------------------------------------------------------------------- image


def test_dockerfile_follows_the_house_rules() -> None:
    text = DOCKERFILE.read_text()
    froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert len(froms) >= 2, "multi-stage build expected"
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    assert re.search(r"^USER 10001", text, re.M)
    assert "HEALTHCHECK" in text and "/healthz" in text
    assert 'pip install --no-cache-dir "uv==' in text
    assert "uv sync --frozen --no-dev" in text
    assert not REGISTRY_HOST.search(text.replace("http://127.0.0.1", ""))
    ignore = (ROOT / ".dockerignore").read_text().split()
    for needed in ("!pyproject.toml", "!uv.lock", "!libs/", "!services/", "!deploy/docker/"):
        assert needed in ignore


def _context_copy(dest: Path) -> None:
    """What .dockerignore lets into the build: pyproject, lock, libs, services."""
    shutil.copy2(ROOT / "pyproject.toml", dest)
    shutil.copy2(ROOT / "uv.lock", dest)
    junk = shutil.ignore_patterns(".venv", "__pycache__", "*.pyc", "tests", ".run", ".*_cache")
    for folder in ("libs", "services"):
        shutil.copytree(ROOT / folder, dest / folder, ignore=junk)


@pytest.mark.parametrize("service", sorted(built_services()))
def test_image_uv_steps_install_a_runnable_service(service: str, tmp_path: Path) -> None:
    """Run the Dockerfile's own `uv sync` lines on a copy of the build context.

    No Docker engine here: this proves the lock installs the service, with
    uvicorn and alembic, without dev dependencies and without the repo tree.
    """
    context = tmp_path / "ctx"
    context.mkdir()
    _context_copy(context)
    venv = tmp_path / "venv"
    uv = shutil.which("uv")
    assert uv, "uv is required"
    env = {
        **os.environ,
        "UV_PROJECT_ENVIRONMENT": str(venv),
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_LINK_MODE": "copy",
    }
    env.pop("VIRTUAL_ENV", None)
    commands = re.findall(r"^\s*(uv sync [^\n]+)$", DOCKERFILE.read_text(), re.M)
    assert len(commands) == 2
    for command in commands:
        argv = shlex.split(command.replace("${SERVICE}", service))
        result = subprocess.run(
            [uv, *argv[1:]], cwd=context, env=env, capture_output=True, text=True, timeout=600
        )
        assert result.returncode == 0, f"{command}\n{result.stderr}"
    python = venv / "bin" / "python"
    probe = (
        f"import {service}_service.main as m; assert callable(m.create_app); "
        "import uvicorn, alembic"
    )
    result = subprocess.run(
        [str(python), "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert (venv / "bin" / "alembic").exists() and (venv / "bin" / "uvicorn").exists()
    # Non-editable: nothing in the venv points back at the build context.
    assert not list(venv.glob("lib/python*/site-packages/*.pth")) or all(
        str(context) not in p.read_text() for p in venv.glob("lib/python*/site-packages/*.pth")
    )
    dev_only = subprocess.run([str(python), "-c", "import pytest"], capture_output=True)
    assert dev_only.returncode != 0, "dev dependencies leaked into the image"
    assert (ROOT / "services" / service / "alembic.ini").exists()
    assert (ROOT / "services" / service / "alembic").is_dir()


# --------------------------------------------------------------------------- backups


def test_backup_cronjobs_validate_and_are_locked_down(tmp_path: Path) -> None:
    path = render_overlay("../backup", tmp_path)
    result = run(tool("kubernetes-validate"), "--strict", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    docs = load_all(path)
    jobs = {d["metadata"]["name"]: d for d in docs if d["kind"] == "CronJob"}
    assert set(jobs) == {"pgbackrest-full", "pgbackrest-diff", "influxdb-backup"}
    args = {
        name: job["spec"]["jobTemplate"]["spec"]["template"]["spec"] for name, job in jobs.items()
    }
    assert "--type=full" in args["pgbackrest-full"]["containers"][0]["args"]
    assert "--type=diff" in args["pgbackrest-diff"]["containers"][0]["args"]
    for name, job in jobs.items():
        assert job["spec"]["concurrencyPolicy"] == "Forbid", name
        pod = args[name]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod.get("automountServiceAccountToken") is False, name
        for c in pod["containers"]:
            assert c["securityContext"]["readOnlyRootFilesystem"] is True, name
            assert c["securityContext"]["capabilities"]["drop"] == ["ALL"], name
            assert not REGISTRY_HOST.match(c["image"]), name
    # Archiving on the PostgreSQL side: a minute at most between a write and its archive.
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    assert "archive_timeout = 60" in config["postgresql-archiving.conf"]
    assert "archive-push" in config["postgresql-archiving.conf"]
    assert not [d for d in docs if d["kind"] == "Secret"], "secrets come from outside"
    template = (K8S / "backup" / "secret.template.yaml").read_text()
    assert "TEMPLATE ONLY" in template
    for key, value in yaml.safe_load(template)["stringData"].items():
        assert "PLACEHOLDER" in value, key


# --------------------------------------------------------------------------- logs


def test_log_shipping_validates_and_follows_one_request_id(tmp_path: Path) -> None:
    path = render_overlay("../logging", tmp_path)
    result = run(tool("kubernetes-validate"), "--strict", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    docs = load_all(path)
    (daemonset,) = [d for d in docs if d["kind"] == "DaemonSet"]
    pod = daemonset["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/var/log"]["readOnly"] is True
    config_map = next(
        d for d in docs if d["kind"] == "ConfigMap" and "fluent-bit.yaml" in d.get("data", {})
    )
    config = yaml.safe_load(config_map["data"]["fluent-bit.yaml"])["pipeline"]
    (tail,) = config["inputs"]
    assert tail["path"] == "/var/log/containers/*_cercollettiva_*.log"  # our namespace only
    modify = next(f for f in config["filters"] if f["name"] == "modify")
    # The gateway's request_id and the services' correlation_id: one field to follow.
    assert modify["copy"] == "request_id correlation_id"
    (output,) = config["outputs"]
    assert output["name"] == "loki" and output["host"] == "${LOKI_HOST}"
    # The correlation id is never a label (unbounded values); it is read from the line.
    assert "correlation_id" not in output["labels"]
    env = next(d for d in docs if d["kind"] == "ConfigMap" and "LOKI_HOST" in d.get("data", {}))
    assert {"LOKI_HOST", "LOKI_PORT", "LOKI_TENANT"} <= set(env["data"])
    # What the services write and the gateway logs are what the config reads.
    logging_py = (ROOT / "libs" / "shared" / "src" / "cerc_shared" / "logging.py").read_text()
    assert "%(correlation_id)s" in logging_py
    envoy = (ROOT / "gateway" / "envoy.yaml.tmpl").read_text()
    assert 'request_id: "%REQ(X-REQUEST-ID)%"' in envoy


def test_web_dockerfile_follows_the_house_rules() -> None:
    text = (ROOT / "deploy" / "docker" / "web.Dockerfile").read_text()
    froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
    # Contracts from the FastAPI apps, the app built against them, a small runtime.
    assert len(froms) == 3
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    assert re.search(r"^USER 10001", text, re.M)
    assert "HEALTHCHECK" in text and "/healthz" in text
    assert "npm ci" in text and "npm run build" in text
    assert "uv sync --frozen --no-dev" in text
    assert not REGISTRY_HOST.search(text.replace("http://127.0.0.1", ""))
    ignore = (ROOT / ".dockerignore").read_text().split()
    for needed in ("!web/", "!scripts/web_server.py", "**/node_modules"):
        assert needed in ignore
