"""The alerting rules and the Prometheus operator's resources, checked offline.

promtool (Prometheus's own checker, infra/promtool.sh) validates the rules and
runs their unit tests; the PrometheusRule must carry exactly the plain file's
groups; every metric a rule reads must be one the code defines (or one of the
named exporters'); the monitors must point at ports the pods have.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
RULES = MONITORING / "rules" / "cercollettiva.rules.yaml"
K8S = ROOT / "deploy" / "k8s"
PROMTOOL = ROOT / "infra" / "promtool.sh"

# Series that come from elsewhere than our code: Envoy, cAdvisor,
# kube-state-metrics, Prometheus itself.
EXTERNAL = re.compile(r"^(envoy_|container_|kube_|up$)")
PROMQL_WORDS = {
    "sum", "by", "without", "rate", "increase", "delta", "histogram_quantile", "time",
    "min", "max", "avg", "avg_over_time", "absent", "and", "or", "unless", "bool",
    "label_replace", "on", "ignoring", "group_left", "group_right",
}  # fmt: skip


def promtool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(PROMTOOL), *args], capture_output=True, text=True, cwd=cwd, timeout=600
    )


def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def test_rules_pass_promtool_check() -> None:
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


def test_rules_unit_tests_pass() -> None:
    tests = sorted((MONITORING / "tests").glob("*.test.yaml"))
    assert tests
    result = promtool("test", "rules", *map(str, tests))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_unit_test_that_expects_it_to_fire() -> None:
    fired: set[str] = set()
    for path in (MONITORING / "tests").glob("*.test.yaml"):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                if case.get("exp_alerts"):
                    fired.add(case["alertname"])
    alerts = {r["alert"] for r in rules()}
    assert alerts - fired == set(), "alerts no test sees firing"


def test_the_spec_s_four_alerts_are_there_for_services_and_gateway() -> None:
    alerts = {r["alert"]: r for r in rules()}
    for scope in ("Service", "Gateway"):
        assert f"{scope}ErrorRateHigh" in alerts
        assert f"{scope}LatencyP95High" in alerts
        assert f"{scope}AvailabilityLow" in alerts
    assert "> 0.05" in alerts["ServiceErrorRateHigh"]["expr"]
    assert ") > 0.5" in alerts["ServiceLatencyP95High"]["expr"]
    assert "> 500" in alerts["GatewayLatencyP95High"]["expr"]  # Envoy counts milliseconds
    assert "< 0.99" in alerts["ServiceAvailabilityLow"]["expr"]
    assert "> 0.8" in alerts["ContainerCpuHigh"]["expr"]
    assert "> 0.8" in alerts["ContainerMemoryHigh"]["expr"]
    for rule in rules():
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert {"summary", "description", "runbook"} <= set(rule["annotations"]), rule["alert"]


def _metric_names(expr: str) -> set[str]:
    # Drop label matchers and strings, then take identifiers that are not
    # PromQL words, durations or label names after by/without.
    text = re.sub(r"\{[^}]*\}", "", expr)
    text = re.sub(r'"[^"]*"', "", text)
    text = re.sub(r"\b(by|without)\s*\([^)]*\)", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    names = set(re.findall(r"\b[a-zA-Z_][a-zA-Z0-9_]*\b", text))
    return {n for n in names if n not in PROMQL_WORDS}


def _defined_in_code() -> str:
    sources = [*ROOT.glob("libs/*/src/**/*.py"), *ROOT.glob("services/*/src/**/*.py")]
    return "\n".join(p.read_text() for p in sources)


def test_every_metric_a_rule_reads_is_defined_in_the_code() -> None:
    code = _defined_in_code()
    for rule in rules():
        for name in _metric_names(rule["expr"]):
            if EXTERNAL.match(name):
                continue
            base = re.sub(r"_(bucket|count|sum)$", "", name)
            assert f'"{base}"' in code, f"{rule['alert']}: no metric {base!r} in libs/ or services/"


def test_prometheusrule_carries_the_plain_rules() -> None:
    result = subprocess.run(
        [sys.executable, str(MONITORING / "build.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    resource = yaml.safe_load((K8S / "monitoring" / "prometheusrule.yaml").read_text())
    assert resource["apiVersion"] == "monitoring.coreos.com/v1"
    assert resource["kind"] == "PrometheusRule"
    assert resource["spec"]["groups"] == yaml.safe_load(RULES.read_text())["groups"]


@pytest.fixture(scope="module")
def rendered_prod(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    result = subprocess.run(
        [str(K8S / "kustomize.sh"), str(K8S / "overlays" / "prod")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def test_monitors_point_at_ports_the_pods_have(rendered_prod: list[dict[str, Any]]) -> None:
    result = subprocess.run(
        [str(K8S / "kustomize.sh"), str(K8S / "monitoring")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    monitors = {
        d["metadata"]["name"]: d
        for d in yaml.safe_load_all(result.stdout)
        if d and d["kind"] in {"ServiceMonitor", "PodMonitor"}
    }
    workloads = {
        d["metadata"]["name"]: d["spec"]["template"]
        for d in rendered_prod
        if d["kind"] in {"Deployment", "StatefulSet"}
    }
    services = {d["metadata"]["name"]: d for d in rendered_prod if d["kind"] == "Service"}
    for name in ("gateway", "iot-bridge"):
        monitor = monitors[name]
        template = workloads[name]
        assert (
            monitor["spec"]["selector"]["matchLabels"].items()
            <= template["metadata"]["labels"].items()
        )
        ports = {p["name"] for c in template["spec"]["containers"] for p in c.get("ports", [])}
        for endpoint in monitor["spec"]["podMetricsEndpoints"]:
            assert endpoint["port"] in ports, name
    scraped = monitors["cercollettiva-services"]["spec"]
    wanted = set(scraped["selector"]["matchExpressions"][0]["values"])
    fleet = set((ROOT / "infra" / "services.txt").read_text().split())
    assert fleet <= wanted
    for name in fleet & set(services):
        assert "http" in {p["name"] for p in services[name]["spec"]["ports"]}, name
        assert services[name]["metadata"]["labels"]["app.kubernetes.io/name"] in wanted


def test_gateway_health_listener_serves_prometheus_stats_only() -> None:
    config = yaml.safe_load((K8S / "base" / "gateway" / "envoy.yaml").read_text())
    health = next(x for x in config["static_resources"]["listeners"] if x["name"] == "health")
    hcm = health["filter_chains"][0]["filters"][0]["typed_config"]
    routes = hcm["route_config"]["virtual_hosts"][0]["routes"]
    proxied = {r["match"]["path"]: r["route"]["cluster"] for r in routes}
    # Nothing else of the admin interface (it can stop the server) is reachable.
    assert proxied == {"/ready": "envoy_admin", "/stats/prometheus": "envoy_admin"}


# --------------------------------------------------------------------------- dashboards

DASHBOARDS = K8S / "monitoring" / "dashboards"


def _panel_queries() -> list[tuple[str, str]]:
    queries = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel["targets"]:
                queries.append((f"{path.stem}: {panel['title']}", target["expr"]))
    return queries


def test_dashboards_are_current_and_cover_gateway_services_devices_money() -> None:
    result = subprocess.run(
        [sys.executable, str(MONITORING / "dashboards.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    boards = {p.stem for p in DASHBOARDS.glob("*.json")}
    assert boards == {"gateway", "services", "device-path", "money-path"}
    kustomization = (K8S / "monitoring" / "kustomization.yaml").read_text()
    for board in boards:
        assert f"dashboards/{board}.json" in kustomization, board


def test_every_dashboard_query_is_valid_promql_over_known_metrics(tmp_path: Path) -> None:
    queries = _panel_queries()
    assert len(queries) >= 20
    # promtool parses a query when it is a recording rule's expression.
    rules = {
        "groups": [
            {
                "name": "dashboards",
                "rules": [
                    {"record": f"dashboard:query_{i}", "expr": expr}
                    for i, (_, expr) in enumerate(queries)
                ],
            }
        ]
    }
    path = tmp_path / "dashboards.rules.yaml"
    path.write_text(yaml.safe_dump(rules))
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    code = _defined_in_code()
    for where, expr in queries:
        for name in _metric_names(expr):
            if EXTERNAL.match(name):
                continue
            base = re.sub(r"_(bucket|count|sum)$", "", name)
            assert f'"{base}"' in code, f"{where}: no metric {base!r} in libs/ or services/"
