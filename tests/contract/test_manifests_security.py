"""Kubernetes security manifests, checked offline: TLS certificates from
cert-manager, the bus's principals, and network policies that allow only the
architecture's flows.

The cert-manager kinds have no schema in kubernetes-validate: their structure
is checked here (what a Certificate must name for the Secret the pods mount).
The NetworkPolicies are standard kinds (validated strictly with the overlays
in test_manifests.py); here a small evaluator answers "may pod A reach pod B
on port P" from the rendered policies, for the flows the architecture has
and for some it must not.
"""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from cerc_shared import bus_acl

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
Doc = dict[str, Any]


@cache
def kustomize(path: str) -> tuple[Doc, ...]:
    result = subprocess.run(
        [str(K8S / "kustomize.sh"), str(K8S / path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"kustomize build {path} failed:\n{result.stderr}"
    return tuple(d for d in yaml.safe_load_all(result.stdout) if d)


def kinds(docs: tuple[Doc, ...], kind: str) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


# --------------------------------------------------------------------------- TLS


def test_certificates_are_issued_by_the_platform_ca_and_renewed() -> None:
    docs = kustomize("tls")
    certificates, issuers = kinds(docs, "Certificate"), kinds(docs, "Issuer")
    assert {"gateway-tls", "mqtt-tls", "cercollettiva-ca"} <= set(certificates)
    for name, cert in certificates.items():
        assert cert["apiVersion"] == "cert-manager.io/v1", name
        spec = cert["spec"]
        ref = spec["issuerRef"]
        assert ref["kind"] == "Issuer" and ref["name"] in issuers, name
        assert spec["secretName"] == name
        if spec.get("isCA"):
            continue
        assert ref["name"] == "cercollettiva-ca", name
        assert spec["dnsNames"], name
        assert "server auth" in spec["usages"], name
        assert spec["privateKey"]["rotationPolicy"] == "Always", name
        hours = {k: int(spec[k].removesuffix("h")) for k in ("duration", "renewBefore")}
        assert 0 < hours["renewBefore"] < hours["duration"], name
    # The CA issuer signs with the CA certificate's own Secret.
    ca_issuer = issuers["cercollettiva-ca"]["spec"]["ca"]
    assert certificates[ca_issuer["secretName"]]["spec"]["isCA"] is True


def test_the_gateway_mounts_its_certificate_where_envoy_reads_it() -> None:
    issued = {c["spec"]["secretName"] for c in kinds(kustomize("tls"), "Certificate").values()}
    for overlay in ("overlays/dev", "overlays/prod"):
        gateway = kinds(kustomize(overlay), "Deployment")["gateway"]
        pod = gateway["spec"]["template"]["spec"]
        [tls] = [v for v in pod["volumes"] if "secret" in v]
        assert tls["secret"]["secretName"] in issued
        [envoy] = pod["containers"]
        [mount] = [m for m in envoy["volumeMounts"] if m["name"] == tls["name"]]
        assert mount["readOnly"] is True
        config = yaml.safe_load((K8S / "base" / "gateway" / "envoy.yaml").read_text())
        [https] = [x for x in config["static_resources"]["listeners"] if x["name"] == "api_tls"]
        context = https["filter_chains"][0]["transport_socket"]["typed_config"]
        [pair] = context["common_tls_context"]["tls_certificates"]
        assert pair["certificate_chain"]["filename"] == f"{mount['mountPath']}/tls.crt"
        assert pair["private_key"]["filename"] == f"{mount['mountPath']}/tls.key"
        ports = {p["name"]: p["containerPort"] for p in envoy["ports"]}
        assert ports["https"] == https["address"]["socket_address"]["port_value"]
    external = kinds(kustomize("overlays/prod"), "Service")["gateway-external"]
    assert {(p["port"], p["targetPort"]) for p in external["spec"]["ports"]} >= {(443, "https")}


# --------------------------------------------------------------------------- the bus


@pytest.mark.parametrize("overlay", ["overlays/dev", "overlays/prod"])
def test_every_service_reaches_the_bus_as_its_own_principal(overlay: str) -> None:
    docs = kustomize(overlay)
    config_maps = kinds(docs, "ConfigMap")
    workloads = {**kinds(docs, "Deployment"), **kinds(docs, "StatefulSet")}
    expected_protocol = "SASL_PLAINTEXT" if overlay.endswith("dev") else "SASL_SSL"
    on_the_bus = set()
    for name, workload in workloads.items():
        [container] = workload["spec"]["template"]["spec"]["containers"]
        env: dict[str, str] = {}
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                env.update(config_maps[source["configMapRef"]["name"]]["data"])
        explicit = {e["name"]: e for e in container.get("env", [])}
        env.update({k: e["value"] for k, e in explicit.items() if "value" in e})
        bootstrap = [k for k in env if k.endswith("_KAFKA_BOOTSTRAP")]
        if not bootstrap:  # the gateway, the web app: not on the bus
            continue
        on_the_bus.add(name)
        prefix = bootstrap[0].removesuffix("KAFKA_BOOTSTRAP")
        assert env[prefix + "KAFKA_SECURITY_PROTOCOL"] == expected_protocol, name
        principal = env[prefix + "KAFKA_SASL_USERNAME"]
        assert principal in bus_acl.PRINCIPALS, name
        # The bridge is its own principal (it writes readings, the API device events).
        assert principal == ("bridge" if name == "iot-bridge" else name), name
        if name == "iot-bridge":
            ref = explicit[prefix + "KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]
            assert ref["key"] == "CERC_IOT_BRIDGE_KAFKA_SASL_PASSWORD"
    built = {p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml")}
    assert on_the_bus >= built | {"iot-bridge"}


# --------------------------------------------------------------------------- network policies

# Peers outside the namespace's workloads: a client on the internet, a pod
# nobody declared (an attacker's), PostgreSQL & co. (reached by port).
OUTSIDE: Doc = {"labels": {}, "namespace": {"kubernetes.io/metadata.name": "elsewhere"}}
MONITORING: Doc = {"labels": {}, "namespace": {"kubernetes.io/metadata.name": "monitoring"}}
STRANGER: Doc = {"labels": {"app": "stranger"}, "namespace": None}


def _matches(selector: Doc | None, labels: dict[str, str]) -> bool:
    if selector is None:
        return True
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions", []):
        present = expr["key"] in labels
        if expr["operator"] == "In" and (not present or labels[expr["key"]] not in expr["values"]):
            return False
        if expr["operator"] == "NotIn" and present and labels[expr["key"]] in expr["values"]:
            return False
        if expr["operator"] == "Exists" and not present:
            return False
    return True


def _peer_matches(peer: Doc, who: Doc) -> bool:
    """A NetworkPolicyPeer (from/to entry) against a pod ``who``."""
    if "ipBlock" in peer:
        return who["namespace"] is not None and not who["labels"]
    if "namespaceSelector" in peer:
        if who["namespace"] is None:  # a pod of this namespace: its labels are ours
            own = {"kubernetes.io/metadata.name": "cercollettiva"}
            if not _matches(peer["namespaceSelector"], own):
                return False
        elif not _matches(peer["namespaceSelector"], who["namespace"]):
            return False
        return _matches(peer.get("podSelector"), who["labels"])
    # podSelector alone: pods of this namespace only.
    return who["namespace"] is None and _matches(peer["podSelector"], who["labels"])


def _port_ok(rule: Doc, port: int) -> bool:
    return "ports" not in rule or any(p["port"] == port for p in rule["ports"])


def _allowed(policies: list[Doc], direction: str, subject: Doc, peer: Doc, port: int) -> bool:
    """Whether ``subject`` (a pod of the namespace) may send/take ``port`` to/from ``peer``."""
    kind, key = ("Ingress", "from") if direction == "ingress" else ("Egress", "to")
    selecting = [
        p
        for p in policies
        if kind in p["spec"]["policyTypes"] and _matches(p["spec"]["podSelector"], subject)
    ]
    assert selecting, f"no {kind} policy selects {subject}: the default deny is missing"
    return any(
        _port_ok(rule, port) and (key not in rule or any(_peer_matches(x, peer) for x in rule[key]))
        for p in selecting
        for rule in p["spec"].get(direction, [])
    )


def _pods(docs: tuple[Doc, ...]) -> dict[str, dict[str, str]]:
    workloads = {**kinds(docs, "Deployment"), **kinds(docs, "StatefulSet")}
    return {n: w["spec"]["template"]["metadata"]["labels"] for n, w in workloads.items()}


def _flow(docs: tuple[Doc, ...], source: str | Doc, dest: str | Doc, port: int) -> bool:
    policies = list(kinds(docs, "NetworkPolicy").values())
    pods = _pods(docs)

    def who(x: str | Doc) -> Doc:
        return {"labels": pods[x], "namespace": None} if isinstance(x, str) else x

    src, dst = who(source), who(dest)
    out = src["namespace"] is not None or _allowed(policies, "egress", src["labels"], dst, port)
    into = dst["namespace"] is not None or _allowed(policies, "ingress", dst["labels"], src, port)
    return out and into


FLOWS_ALLOWED = [
    (OUTSIDE, "gateway", 8443),
    (OUTSIDE, "gateway", 8080),  # it only redirects to https
    ("gateway", "user", 8000),
    ("gateway", "energy", 8000),
    ("gateway", "notification", 8000),
    ("gateway", "web", 8000),
    ("cer", "user", 8000),  # JWKS
    ("economic", "energy", 8000),  # the internal API settlement reads
    ("energy", OUTSIDE, 8086),  # InfluxDB
    ("energy", OUTSIDE, 9093),  # Kafka, SASL_SSL
    ("iot", OUTSIDE, 1883),  # Mosquitto, cluster-internal plain listener
    ("iot-bridge", OUTSIDE, 1883),
    ("iot-bridge", OUTSIDE, 9093),
    ("notification", OUTSIDE, 587),
    ("user", OUTSIDE, 5432),
    (MONITORING, "cer", 8000),
    (MONITORING, "iot-bridge", 8001),
]
FLOWS_DENIED = [
    (OUTSIDE, "cer", 8000),  # services only behind the gateway
    (OUTSIDE, "iot-bridge", 8001),
    (STRANGER, "user", 8000),  # a pod nobody declared
    (STRANGER, "gateway", 9901),  # Envoy's admin
    ("cer", "energy", 8000),
    ("iot", "economic", 8000),
    ("gateway", OUTSIDE, 5432),  # the gateway touches no database
    ("gateway", OUTSIDE, 9093),
    ("cer", OUTSIDE, 8086),  # only energy writes InfluxDB
    ("energy", OUTSIDE, 1883),  # only iot talks MQTT
    ("cer", OUTSIDE, 443),  # only economic calls out (the GSE)
    ("iot-bridge", "user", 8000),
    (OUTSIDE, "web", 8000),  # the app only through the gateway
    ("web", "user", 8000),  # the app calls nothing itself
    ("web", OUTSIDE, 5432),
]


@pytest.mark.parametrize("overlay", ["overlays/dev", "overlays/prod"])
def test_a_default_deny_covers_every_pod(overlay: str) -> None:
    policies = kinds(kustomize(overlay), "NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny


@pytest.mark.parametrize(("source", "dest", "port"), FLOWS_ALLOWED)
def test_the_architectures_flows_are_allowed(source: str | Doc, dest: str | Doc, port: int) -> None:
    assert _flow(kustomize("overlays/prod"), source, dest, port)


@pytest.mark.parametrize(("source", "dest", "port"), FLOWS_DENIED)
def test_other_flows_are_denied(source: str | Doc, dest: str | Doc, port: int) -> None:
    assert not _flow(kustomize("overlays/prod"), source, dest, port)


def test_the_dev_overlay_reaches_its_plain_sasl_broker_and_nothing_more() -> None:
    docs = kustomize("overlays/dev")
    assert _flow(docs, "cer", OUTSIDE, 9092)
    assert not _flow(docs, "gateway", OUTSIDE, 9092)
    assert not _flow(kustomize("overlays/prod"), "cer", OUTSIDE, 9092)
