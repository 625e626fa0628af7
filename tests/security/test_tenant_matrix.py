"""The cross-tenant matrix (issue 12, "Done when"): every route of every
service's OpenAPI document, asked through the gateway by community B's admin
and member for community A's objects, is an enveloped 404; an admin action on
A asked by A's plain member is a 403 or an enveloped 404; the same request by
A's admin (or the object's owner) is not a 404, so a wrong path cannot pass.

The routes come from the services' OpenAPI documents, so a new route is in
the matrix without anyone adding it: its parameters are filled from a table
keyed by the parameter's NAME (tenant_world.World.values), its body from the
recipes below, and a route the tables cannot fill, or a route that names no
community object and is not classified below, fails naming what is missing.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from .tenant_world import MONTH, VALUE_NAMES, World, build

SERVICES = ("user", "cer", "iot", "energy", "economic", "notification", "reporting")

# Routes that take no caller (the caller's credentials are the request): not asked as B.
PUBLIC = {
    ("POST", "/api/auth/register/"), ("POST", "/api/auth/login/"),
    ("POST", "/api/auth/refresh/"), ("POST", "/api/auth/logout/"),
    ("GET", "/api/auth/jwks/"), ("POST", "/api/auth/token/"),
    # The signed token in the link is the credential (notification_service.unsubscribe).
    ("GET", "/api/notifications/unsubscribe/"), ("POST", "/api/notifications/unsubscribe/"),
}  # fmt: skip
# The caller's own data, no community named: B's answer must hold nothing of A.
OWN = {
    ("POST", "/api/auth/2fa/setup/"), ("POST", "/api/auth/2fa/confirm/"),
    ("POST", "/api/auth/2fa/disable/"), ("GET", "/api/users/me/"), ("PATCH", "/api/users/me/"),
    ("POST", "/api/users/me/password/"), ("GET", "/api/cer/invitations/mine/"),
    ("GET", "/api/cer/me/export/"), ("POST", "/api/cer/me/erasure/"), ("GET", "/api/cer/"),
    ("POST", "/api/cer/"), ("GET", "/api/plants/"), ("GET", "/api/iot/devices/"),
    ("GET", "/api/energy/measurements/"), ("GET", "/api/economic/members/me/"),
    ("GET", "/api/notifications/"), ("GET", "/api/notifications/unread-count/"),
    ("GET", "/api/notifications/preferences/"), ("PUT", "/api/notifications/preferences/"),
    ("GET", "/api/users/me/export/"), ("POST", "/api/users/me/erasure/"),
}  # fmt: skip
# Market data and rule parameters: the same for everyone, no tenant's data.
GLOBAL = {
    ("GET", "/api/economic/prices/"), ("GET", "/api/economic/prices/revisions/"),
    ("GET", "/api/economic/prices/imports/"), ("GET", "/api/economic/parameters/"),
    ("GET", "/api/economic/parameters/changes/"),
}  # fmt: skip
# The platform administrator's: anyone else 403 (or 404).
PLATFORM = {
    ("POST", "/api/auth/clients/"), ("GET", "/api/auth/clients/"),
    ("DELETE", "/api/auth/clients/{client_id}/"), ("GET", "/api/users/"),
    ("GET", "/api/users/audit/"),
    ("GET", "/api/users/{user_id}/"), ("PATCH", "/api/users/{user_id}/"),
    ("POST", "/api/economic/prices/imports/"), ("POST", "/api/economic/parameters/"),
    ("DELETE", "/api/cer/{cer_id}/"),
    # A member joins by invitation only; adding directly is for support (cer_service).
    ("POST", "/api/cer/{cer_id}/members/"),
}  # fmt: skip
# Who may ask, when not A's admin: the route's object belongs to this actor.
OWNER = {
    ("POST", "/api/cer/invitations/{reference}/accept/"): "A-invitee",
    ("POST", "/api/notifications/{notification_id}/read/"): "A-member",
}
# Query parameters named after A's objects, filled even when optional (a list
# filtered by A's community must be a 404 for B, not an empty page).
TENANT_QUERY = {"community_id", "cer_id", "plant_id", "device_id"}
QUERY = {
    "by": "community", "from": f"{MONTH}-01", "to": f"{MONTH}-28", "zone": "NORD",
    "start": f"{MONTH}-01T00:00:00+02:00", "end": f"{MONTH}-02T00:00:00+02:00",
}  # fmt: skip
TINY_FILE = {"file": ("matrix.csv", b"not what the route reads\n", "text/csv")}


@dataclass(frozen=True)
class Body:
    json: Callable[[dict[str, Any]], Any] | None = None
    form: Callable[[dict[str, Any]], dict[str, str]] | None = None
    files: dict[str, tuple[str, bytes, str]] | None = None

    def kwargs(self, values: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.json is not None:
            out["json"] = self.json(values)
        if self.form is not None:
            out["data"] = self.form(values)
        if self.files is not None:
            out["files"] = self.files
        return out


def _reading(v: dict[str, Any]) -> dict[str, Any]:
    return {"timestamp": f"{MONTH}-10T10:00:00+02:00", "energy_consumed_kwh": 0.5}


def _community(v: dict[str, Any]) -> dict[str, Any]:
    return {"community_id": v["community_id"]}


# Bodies, by route: valid, so a refusal is about who asks, never a 422 on the shape.
BODIES: dict[tuple[str, str], Body] = {
    ("POST", "/api/auth/2fa/confirm/"): Body(json=lambda v: {"otp": "000000"}),
    ("POST", "/api/auth/2fa/disable/"): Body(
        json=lambda v: {"password": "Wrong-Horse-42", "otp": "000000"}),
    ("PATCH", "/api/users/me/"): Body(json=lambda v: {"language": "it"}),
    # The wrong password: the account stays (the refusal is what is checked).
    ("POST", "/api/users/me/erasure/"): Body(json=lambda v: {"password": "Wrong-Horse-42"}),
    ("POST", "/api/users/me/password/"): Body(
        json=lambda v: {"current_password": "Wrong-Horse-42", "new_password": "Other-Horse-42"}),
    ("POST", "/api/cer/"): Body(json=lambda v: {
        "name": "CER Matrix Own", "code": "MATRIX-OWN", "market_zone": "NORD",
        "distribution_shares": {"producers_pct": "50", "consumers_pct": "40",
                                "community_fund_pct": "10"}}),
    ("PUT", "/api/notifications/preferences/"): Body(json=lambda v: {
        "preferences": [{"kind": "settlement.completed", "channel": "email", "enabled": True}]}),
    ("POST", "/api/auth/clients/"): Body(json=lambda v: {
        "name": "matrix", "kind": "SERVICE", "scopes": ["energy:read"]}),
    ("PATCH", "/api/users/{user_id}/"): Body(json=lambda v: {"user_type": "PRIVATE"}),
    ("POST", "/api/economic/prices/imports/"): Body(files=TINY_FILE),
    ("POST", "/api/economic/parameters/"): Body(json=lambda v: {
        "name": "TIP_CAP", "valid_from": "2030-01-01", "value": "1", "source": "matrix"}),
    ("POST", "/api/cer/invitations/{reference}/accept/"): Body(json=lambda v: {}),
    ("POST", "/api/cer/{cer_id}/invitations/"): Body(json=lambda v: {
        "email": "matrix-late@example.it", "role": "MEMBER", "member_type": "PRIVATE",
        "joined_on": "2025-01-01"}),
    ("PUT", "/api/cer/{cer_id}/"): Body(json=lambda v: {"name": "CER Demo Bergamo"}),
    ("POST", "/api/cer/{cer_id}/shares/"): Body(json=lambda v: {
        "producers_pct": "50", "consumers_pct": "40", "community_fund_pct": "10",
        "valid_from": "2026-01-01"}),
    ("PUT", "/api/cer/{cer_id}/documents/{kind}/"): Body(
        files={"file": ("statuto.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")}),
    ("POST", "/api/cer/{cer_id}/members/"): Body(json=lambda v: {"username": "matrix-nobody"}),
    ("PUT", "/api/cer/{cer_id}/members/{user_id}/"): Body(json=lambda v: {"role": "MEMBER"}),
    ("POST", "/api/plants/"): Body(json=lambda v: {
        "cer_id": v["cer_id"], "owner_user_id": v["user_id"], "name": "Matrix",
        "pod": "IT001E99900001", "plant_type": "CONSUMER", "nominal_power_kw": "3",
        "address": "Via Roma 1", "city": "Bergamo", "province": "BG", "region": "Lombardia",
        "zip_code": "24121", "primary_substation": "AC001E00101", "market_zone": "NORD",
        "connection_voltage": "BT", "valid_from": "2025-01-01"}),
    ("PUT", "/api/plants/{plant_id}/"): Body(json=lambda v: {"name": "Impianto"}),
    ("POST", "/api/iot/devices/"): Body(json=lambda v: {
        "device_id": "matrix-meter-new", "plant_id": v["plant_id"], "model": "Shelly"}),
    ("PATCH", "/api/iot/devices/{device_id}/"): Body(json=lambda v: {"interval_s": 60}),
    ("POST", "/api/iot/devices/{device_id}/commands/"): Body(json=lambda v: {"command": "reboot"}),
    ("POST", "/api/energy/measurements/"): Body(json=lambda v: {
        "source": "manual", "plant_id": v["plant_id"], "readings": [_reading(v)]}),
    ("POST", "/api/plants/{plant_id}/measurements/"): Body(json=lambda v: {
        "source": "manual", "readings": [_reading(v)]}),
    ("POST", "/api/energy/imports/"): Body(
        form=lambda v: {"community_id": str(v["community_id"])}, files=TINY_FILE),
    ("POST", "/api/economic/settlements/"): Body(json=lambda v: {
        "community_id": v["community_id"], "period": MONTH, "kind": "ESTIMATE"}),
    ("POST", "/api/economic/transactions/"): Body(json=lambda v: {
        "community_id": v["community_id"], "kind": "GSE_PAYMENT", "amount": "1.00"}),
    ("POST", "/api/economic/transactions/{tx_id}/status/"): Body(
        json=lambda v: {"status": "PROCESSED"}),
    ("PUT", "/api/economic/payouts/account/"): Body(json=lambda v: {
        "community_id": v["community_id"], "debtor_name": "CER Demo Bergamo",
        "iban": "IT60X0542811101000000123456"}),
    ("POST", "/api/economic/payouts/"): Body(json=_community),
    ("POST", "/api/economic/payouts/{payout_id}/status-report/"): Body(files=TINY_FILE),
    ("POST", "/api/economic/fees/"): Body(json=lambda v: {
        "community_id": v["community_id"], "valid_from": "2030-01-01", "kind": "PERCENT",
        "percent": "1.00"}),
    ("POST", "/api/economic/distribute/"): Body(json=lambda v: {"run_id": v["run_id"]}),
    ("POST", "/api/economic/simulations/"): Body(json=lambda v: {
        "community_id": v["community_id"], "household": {"annual_kwh": "2700"}}),
    ("PUT", "/api/economic/gse/credentials/"): Body(json=lambda v: {
        "community_id": v["community_id"], "client_id": "matrix",
        "client_secret": "matrix-secret-1"}),
    ("POST", "/api/economic/gse/sync/"): Body(json=_community),
    ("POST", "/api/economic/gse/imports/"): Body(
        form=lambda v: {"community_id": str(v["community_id"])}, files=TINY_FILE),
    ("POST", "/api/reports/"): Body(json=lambda v: {
        "kind": "MONTHLY_COMMUNITY", "community_id": v["community_id"], "period": MONTH,
        "format": "CSV"}),
}  # fmt: skip
# Mutations a plain member of A may make on A's objects, and why.
MEMBER_MAY = {
    # A member weighs a newcomer's effect on the community (economic what-if).
    ("POST", "/api/economic/simulations/"),
    ("POST", "/api/reports/"),  # their own statement; a community report refused inside
}
# Changes whose success would spoil later rows: A's control asks for them last, in this order.
LAST = [
    ("DELETE", "/api/cer/{cer_id}/invitations/{invitation_id}/"),
    ("POST", "/api/iot/devices/{device_id}/credentials/"),
    ("DELETE", "/api/iot/devices/{device_id}/"),
    ("DELETE", "/api/plants/{plant_id}/"),
    ("DELETE", "/api/cer/{cer_id}/members/{user_id}/"),
]
# The caller's erasure: the outsider asks for it after its other own-data rows.
ERASURE = ("POST", "/api/cer/me/erasure/")


@dataclass(frozen=True)
class Operation:
    service: str
    method: str
    path: str
    path_params: tuple[str, ...]
    query_params: tuple[tuple[str, bool], ...]  # name, required
    has_body: bool

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.path

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def _documents() -> Iterator[tuple[str, dict[str, Any]]]:
    """Each service's OpenAPI document from its app, as it serves it (see
    test_the_served_documents_are_the_ones_enumerated), without a server."""
    for name in SERVICES:
        variable = f"CERC_{name.upper()}_ENVIRONMENT"
        before = os.environ.get(variable)
        # Built with the development defaults to render the routes only; put
        # back after, since no ENVIRONMENT means production for other tests.
        os.environ[variable] = "development"
        try:
            module = importlib.import_module(f"{name}_service.main")
            app = module.app() if not hasattr(module.app, "openapi") else module.app
            yield name, app.openapi()
        finally:
            if before is None:
                del os.environ[variable]
            else:
                os.environ[variable] = before


def _operations() -> list[Operation]:
    out = []
    for service, document in _documents():
        for path, item in document["paths"].items():
            for method, op in item.items():
                params = op.get("parameters", [])
                out.append(Operation(
                    service, method.upper(), path,
                    tuple(p["name"] for p in params if p["in"] == "path"),
                    tuple((p["name"], bool(p.get("required"))) for p in params
                          if p["in"] == "query"),
                    "requestBody" in op,
                ))  # fmt: skip
    return out


OPERATIONS = _operations()
INTERNAL = [op for op in OPERATIONS if op.path.startswith("/internal/")]
PUBLIC_API = [op for op in OPERATIONS if not op.path.startswith("/internal/")]
TENANT = [op for op in PUBLIC_API if op.key not in PUBLIC | OWN | GLOBAL | PLATFORM]


def _value(values: dict[str, Any], op: Operation, name: str) -> Any:
    for key in (f"{op.service}:{name}", name):
        if key in values:
            return values[key]
    pytest.fail(f"{op.label} ({op.service}): no value for parameter {name!r}; add A's object "
                "to tenant_world.World.values or QUERY")  # fmt: skip


def request(world: World, op: Operation) -> tuple[str, dict[str, Any]]:
    """The URL and request arguments of ``op`` naming A's objects; fails for a
    parameter or body the tables do not fill."""
    values = world.values
    path = op.path.format(**{n: _value(values, op, n) for n in op.path_params})
    query = {}
    for name, required in op.query_params:
        if name in TENANT_QUERY or required:
            query[name] = QUERY[name] if name in QUERY else _value(values, op, name)
    kwargs: dict[str, Any] = {"params": query}
    if op.has_body:
        if op.key not in BODIES:
            pytest.fail(f"{op.label} ({op.service}) takes a body and BODIES has no recipe for it")
        kwargs |= BODIES[op.key].kwargs(values)
    return path, kwargs


def is_enveloped_404(response: httpx.Response) -> bool:
    """The services' 404 (the envelope with an error code), not Envoy's own."""
    if response.status_code != 404:
        return False
    try:
        body = response.json()
    except (ValueError, httpx.ResponseNotRead):
        return False
    return body.get("success") is False and bool(body.get("errors"))


def show(response: httpx.Response) -> str:
    try:
        return f"{response.status_code} {response.text[:300]}"
    except httpx.ResponseNotRead:  # a live stream, left unread
        return f"{response.status_code} (a stream)"


@pytest.fixture(scope="module")
def world(security_fleet: dict[str, int]) -> World:
    return build(security_fleet)


def test_every_route_is_classified_and_filled() -> None:
    """Without the fleet: each route lands somewhere, no table names a route that is gone."""
    keys = {op.key for op in OPERATIONS}
    for table in (PUBLIC, OWN, GLOBAL, PLATFORM, set(OWNER), set(BODIES), MEMBER_MAY, set(LAST)):
        assert table <= keys, f"routes no service has any more: {sorted(table - keys)}"
    assert len(OPERATIONS) > 100 and len(TENANT) > 50
    # Every route's parameters and body can be filled (placeholders for A's objects).
    placeholders = World(gateway="", values=dict.fromkeys(VALUE_NAMES, 1))
    for op in OPERATIONS:
        if op.key not in PUBLIC:
            request(placeholders, op)


@pytest.mark.servers
@pytest.mark.parametrize("op", INTERNAL, ids=lambda op: f"{op.label} at the gateway")
def test_internal_routes_are_not_reachable_through_the_gateway(world: World, op: Operation) -> None:
    path, kwargs = request(world, op)
    response = world.call("A-admin", op.method, path, **kwargs)
    assert response.status_code == 404, show(response)


@pytest.mark.servers
@pytest.mark.parametrize("actor", ["B-admin", "B-member"])
@pytest.mark.parametrize("op", TENANT, ids=lambda op: op.label)
def test_another_community_gets_an_enveloped_404(world: World, op: Operation, actor: str) -> None:
    path, kwargs = request(world, op)
    response = world.call(actor, op.method, path, **kwargs)
    assert is_enveloped_404(response), f"{op.label} as {actor}: {show(response)}"


@pytest.mark.servers
@pytest.mark.parametrize(
    "op",
    [op for op in TENANT if op.method != "GET" and op.key not in MEMBER_MAY | set(OWNER)],
    ids=lambda op: f"{op.label} as A-member",
)
def test_a_plain_member_cannot_administer(world: World, op: Operation) -> None:
    path, kwargs = request(world, op)
    response = world.call("A-member", op.method, path, **kwargs)
    assert response.status_code == 403 or is_enveloped_404(response), show(response)


@pytest.mark.servers
@pytest.mark.parametrize("actor", ["B-admin", "A-member"])
@pytest.mark.parametrize("op", sorted(PLATFORM), ids=lambda op: f"{op[0]} {op[1]}")
def test_platform_routes_refuse_everyone_else(
    world: World, op: tuple[str, str], actor: str
) -> None:
    operation = next(o for o in PUBLIC_API if o.key == op)
    path, kwargs = request(world, operation)
    response = world.call(actor, operation.method, path, **kwargs)
    assert response.status_code in (403, 404), show(response)


@pytest.mark.servers
@pytest.mark.parametrize(
    "op",
    [op for op in PUBLIC_API if op.key in OWN | GLOBAL and op.key != ERASURE]
    + [op for op in PUBLIC_API if op.key == ERASURE],
    ids=lambda op: op.label,
)
def test_own_data_routes_hold_nothing_of_another_community(world: World, op: Operation) -> None:
    path, kwargs = request(world, op)
    # The outsider: erasure and 2FA act on the caller, and B's rows come later.
    response = world.call("outsider", op.method, path, **kwargs)
    assert response.status_code < 500, show(response)
    leaked = [m for m in world.markers if m.lower() in response.text.lower()]
    assert not leaked, f"{op.label} shows another community's {leaked}: {show(response)}"


def _control_order(op: object) -> int:
    assert isinstance(op, Operation)
    return LAST.index(op.key) + 1 if op.key in LAST else 0


@pytest.mark.servers
@pytest.mark.parametrize(
    "op", sorted(TENANT, key=_control_order), ids=lambda op: f"{op.label} as its owner"
)
def test_the_owner_is_answered_on_the_same_request(world: World, op: Operation) -> None:
    """The control: the request the others got a 404 for reaches the route and
    its object for A (a 404 from a wrong path or id would fail here)."""
    path, kwargs = request(world, op)
    actor = OWNER.get(op.key, "A-admin")
    response = world.call(actor, op.method, path, **kwargs)
    assert response.status_code != 404 and response.status_code < 500, show(response)


@pytest.mark.servers
@pytest.mark.parametrize("service", SERVICES)
def test_the_served_documents_are_the_ones_enumerated(
    security_fleet: dict[str, int], service: str
) -> None:
    served = httpx.get(f"http://127.0.0.1:{security_fleet[f'{service.upper()}_PORT']}/openapi.json")
    assert served.status_code == 200, served.text
    routes = {(m.upper(), p) for p, item in served.json()["paths"].items() for m in item}
    assert routes == {op.key for op in OPERATIONS if op.service == service}
