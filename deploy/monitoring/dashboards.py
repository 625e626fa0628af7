# ruff: noqa: E501 - a PromQL query reads best whole, on one line
"""Write the Grafana dashboards (deploy/k8s/monitoring/dashboards/*.json).

Panels are declared here, short, and written out as Grafana's JSON model
(schemaVersion 39), one file per dashboard, shipped as ConfigMaps that
Grafana's dashboard sidecar loads (label grafana_dashboard: "1").

    uv run python deploy/monitoring/dashboards.py          # write
    uv run python deploy/monitoring/dashboards.py --check  # exit 1 if stale

A contract test runs every panel's query through promtool (as a recording
rule) and checks its metrics exist, like the alerts'.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "deploy" / "k8s" / "monitoring" / "dashboards"

NOT_PROBES = 'route!~"/healthz|/readyz|/metrics"'

# (title, unit, [(legend, expr)]) per panel; a dashboard is a title and panels.
Panel = tuple[str, str, list[tuple[str, str]]]

DASHBOARDS: dict[str, tuple[str, list[Panel]]] = {
    "gateway": (
        "CerCollettiva / Gateway",
        [
            (
                "Requests per second by upstream",
                "reqps",
                [
                    (
                        "{{envoy_cluster_name}}",
                        'sum by (envoy_cluster_name) (rate(envoy_cluster_upstream_rq_total{envoy_cluster_name=~"svc_.*"}[5m]))',
                    )
                ],
            ),
            (
                "5xx share by upstream",
                "percentunit",
                [
                    (
                        "{{envoy_cluster_name}}",
                        'sum by (envoy_cluster_name) (rate(envoy_cluster_upstream_rq_xx{envoy_cluster_name=~"svc_.*", envoy_response_code_class="5"}[5m]))'
                        ' / sum by (envoy_cluster_name) (rate(envoy_cluster_upstream_rq_total{envoy_cluster_name=~"svc_.*"}[5m]))',
                    )
                ],
            ),
            (
                "Latency by upstream (p50, p95, p99)",
                "ms",
                [
                    (
                        f"p{q} {{{{envoy_cluster_name}}}}",
                        f"histogram_quantile(0.{q}, sum by (envoy_cluster_name, le) "
                        '(rate(envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=~"svc_.*"}[5m])))',
                    )
                    for q in ("50", "95", "99")
                ],
            ),
            (
                "Answers by class",
                "reqps",
                [
                    (
                        "{{envoy_response_code_class}}xx",
                        'sum by (envoy_response_code_class) (rate(envoy_http_downstream_rq_xx{envoy_http_conn_manager_prefix="api"}[5m]))',
                    )
                ],
            ),
            (
                "Rate-limited (429) per second",
                "reqps",
                [
                    (
                        "429",
                        'sum(rate(envoy_http_downstream_rq_xx{envoy_http_conn_manager_prefix="api", envoy_response_code_class="4"}[5m]))',
                    )
                ],
            ),
        ],
    ),
    "services": (
        "CerCollettiva / Services",
        [
            (
                "Requests per second by service",
                "reqps",
                [
                    (
                        "{{service}}",
                        f"sum by (service) (rate(http_requests_total{{{NOT_PROBES}}}[5m]))",
                    )
                ],
            ),
            (
                "5xx share by service",
                "percentunit",
                [
                    (
                        "{{service}}",
                        f'sum by (service) (rate(http_requests_total{{status=~"5..", {NOT_PROBES}}}[5m]))'
                        f" / sum by (service) (rate(http_requests_total{{{NOT_PROBES}}}[5m]))",
                    )
                ],
            ),
            (
                "p95 latency by route",
                "s",
                [
                    (
                        "{{service}} {{method}} {{route}}",
                        "histogram_quantile(0.95, sum by (service, method, route, le) "
                        f"(rate(http_request_duration_seconds_bucket{{{NOT_PROBES}}}[5m])))",
                    )
                ],
            ),
            (
                "Outbox: age of the oldest unpublished event",
                "s",
                [
                    (
                        "{{service}}",
                        "time() - min by (service) (outbox_oldest_pending_timestamp_seconds > 0)",
                    )
                ],
            ),
            (
                "Outbox: events published per second",
                "ops",
                [("{{service}}", "sum by (service) (rate(outbox_published_total[5m]))")],
            ),
            (
                "Dead letters (10 min)",
                "short",
                [
                    (
                        "{{consumer}} -> {{topic}}",
                        "sum by (topic, consumer) (increase(dead_letters_total[10m]))",
                    )
                ],
            ),
            (
                "CPU, cores",
                "short",
                [
                    (
                        "{{pod}}",
                        'sum by (pod) (rate(container_cpu_usage_seconds_total{namespace="cercollettiva", container!=""}[5m]))',
                    )
                ],
            ),
            (
                "Memory, working set",
                "bytes",
                [
                    (
                        "{{pod}}",
                        'sum by (pod) (container_memory_working_set_bytes{namespace="cercollettiva", container!=""})',
                    )
                ],
            ),
            (
                "Registry watch listening (cer)",
                "short",
                [("{{pod}}", "min by (pod) (cer_registry_watch_listening)")],
            ),
        ],
    ),
    "device-path": (
        "CerCollettiva / Device path",
        [
            (
                "Readings per second: accepted by the bridge, stored by energy",
                "ops",
                [
                    ("bridge", "sum(rate(iot_bridge_readings_total[1m]))"),
                    (
                        "stored",
                        'sum(rate(energy_points_written_total{measurement="energy"}[1m]))',
                    ),
                ],
            ),
            (
                "Consumer lag (records)",
                "short",
                [("{{group}} {{topic}}", "sum by (group, topic) (kafka_consumer_lag_records)")],
            ),
            (
                "Bridge: unacknowledged messages and cap",
                "short",
                [
                    ("{{pod}}", "max by (pod) (iot_bridge_unacknowledged_messages)"),
                    ("cap {{pod}}", "max by (pod) (iot_bridge_unacknowledged_cap)"),
                ],
            ),
            (
                "Bridge: seconds since it last acknowledged a batch",
                "s",
                [("{{pod}}", "time() - max by (pod) (iot_bridge_last_progress_timestamp_seconds)")],
            ),
            (
                "Bridge sessions connected",
                "short",
                [("connected", "sum(iot_bridge_connected)")],
            ),
            (
                "InfluxDB write failures per second",
                "ops",
                [("failures", "sum(rate(energy_store_write_failures_total[5m]))")],
            ),
            (
                "Devices offline, share by community",
                "percentunit",
                [
                    (
                        "community {{community_id}}",
                        'max by (community_id) (iot_devices{status="OFFLINE"})'
                        " / sum by (community_id) (max by (community_id, status) (iot_devices))",
                    )
                ],
            ),
            (
                "Device-path dead letters (10 min)",
                "short",
                [
                    (
                        "{{topic}}",
                        'sum by (topic) (increase(dead_letters_total{topic=~".*(mqtt|measurement).*"}[10m]))',
                    )
                ],
            ),
        ],
    ),
    "money-path": (
        "CerCollettiva / Money path",
        [
            (
                "Settlement runs by outcome (24 h)",
                "short",
                [
                    (
                        "{{name}} {{outcome}}",
                        'sum by (name, outcome) (increase(job_runs_total{name=~"settlement.*|payout.*"}[24h]))',
                    )
                ],
            ),
            (
                "Hours since the last successful run",
                "h",
                [
                    (
                        "{{name}}",
                        "(time() - max by (name) (job_last_success_timestamp_seconds)) / 3600",
                    )
                ],
            ),
            (
                "Economic service: requests and 5xx share",
                "percentunit",
                [
                    (
                        "5xx share",
                        f'sum(rate(http_requests_total{{service="economic", status=~"5..", {NOT_PROBES}}}[5m]))'
                        f' / sum(rate(http_requests_total{{service="economic", {NOT_PROBES}}}[5m]))',
                    )
                ],
            ),
            (
                "Economic events published per second (statements, payouts)",
                "ops",
                [("economic", 'sum(rate(outbox_published_total{service="economic"}[5m]))')],
            ),
        ],
    ),
}


def dashboard(uid: str, title: str, panels: list[Panel]) -> dict[str, Any]:
    body = []
    for i, (panel_title, unit, targets) in enumerate(panels):
        body.append(
            {
                "id": i + 1,
                "type": "timeseries",
                "title": panel_title,
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "gridPos": {"h": 8, "w": 12, "x": (i % 2) * 12, "y": (i // 2) * 8},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "options": {"legend": {"displayMode": "table", "placement": "bottom"}},
                "targets": [
                    {"refId": chr(ord("A") + j), "expr": expr, "legendFormat": legend}
                    for j, (legend, expr) in enumerate(targets)
                ],
            }
        )
    return {
        "uid": f"cerc-{uid}",
        "title": title,
        "tags": ["cercollettiva"],
        "timezone": "browser",
        "schemaVersion": 39,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "type": "datasource",
                    "query": "prometheus",
                    "label": "Prometheus",
                }
            ]
        },
        "panels": body,
    }


def render() -> dict[str, str]:
    return {
        f"{uid}.json": json.dumps(dashboard(uid, title, panels), indent=2) + "\n"
        for uid, (title, panels) in DASHBOARDS.items()
    }


def main() -> int:
    files = render()
    if "--check" in sys.argv[1:]:
        stale = [
            n
            for n, text in files.items()
            if not (OUT / n).exists() or (OUT / n).read_text() != text
        ]
        extra = {p.name for p in OUT.glob("*.json")} - set(files)
        if stale or extra:
            print(f"stale dashboards: {stale + sorted(extra)}; run deploy/monitoring/dashboards.py")
            return 1
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (OUT / name).write_text(text)
    print(f"wrote {len(files)} dashboards into {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
