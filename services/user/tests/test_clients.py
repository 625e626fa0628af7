"""OAuth 2.0 client credentials: registered clients, the token endpoint (RFC 6749 §4.4), and the
shared dependency services put on their internal routes."""

from __future__ import annotations

import base64
from typing import Annotated, Any
from urllib.parse import quote_plus

import httpx
import jwt
import pytest
from cerc_shared.auth import ClientPrincipal, Principal, Scope, require_client_scope
from cerc_shared.envelope import install_error_handlers, ok
from cerc_shared.service_tokens import ClientCredentials, ClientTokenError
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from user_service import clients, service
from user_service.models import ApiClient, AuditEntry

from .conftest import STRONG_PASSWORD, bearer, register_and_login

COMMUNITY = 41


async def _admin(
    client: httpx.AsyncClient, maker: async_sessionmaker[AsyncSession]
) -> dict[str, str]:
    async with maker() as session:
        await service.ensure_admin(
            session, username="root", email="root@example.it", password=STRONG_PASSWORD
        )
        await session.commit()
    login = await client.post(
        "/api/auth/login/", json={"username": "root", "password": STRONG_PASSWORD}
    )
    assert login.status_code == 200, login.text
    return bearer(login.json()["data"])


async def _register(
    client: httpx.AsyncClient, admin: dict[str, str], **body: Any
) -> dict[str, Any]:
    created = await client.post("/api/auth/clients/", json=body, headers=admin)
    assert created.status_code == 201, created.text
    data: dict[str, Any] = created.json()["data"]
    return data


def _partner(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "Energy dashboard srl",
        "kind": "PARTNER",
        "scopes": ["energy:read", "economic:read"],
        "community_id": COMMUNITY,
    } | overrides


def _service(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "economic service",
        "kind": "SERVICE",
        "scopes": ["energy:read", "registry:read", "registry:read-iban"],
    } | overrides


def _basic(client_id: str, secret: str) -> dict[str, str]:
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


async def _token(
    client: httpx.AsyncClient,
    form: dict[str, str],
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.post("/api/auth/token/", data=form, headers=headers or {})


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


async def test_registration_shows_the_secret_once_stores_its_argon2_hash_and_is_audited(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    admin = await _admin(client, sessionmaker)
    created = await _register(client, admin, **_partner())
    secret = created["client_secret"]
    assert len(secret) >= 40
    assert created["kind"] == "PARTNER" and created["community_id"] == COMMUNITY
    assert created["scopes"] == ["economic:read", "energy:read"]
    listed = await client.get("/api/auth/clients/", headers=admin)
    assert listed.status_code == 200
    (row,) = [c for c in listed.json()["data"] if c["client_id"] == created["client_id"]]
    assert "client_secret" not in row and secret not in listed.text
    async with sessionmaker() as session:
        stored = await session.scalar(
            select(ApiClient).where(ApiClient.client_id == created["client_id"])
        )
        assert stored is not None
        assert stored.secret_hash.startswith("$argon2id$") and secret not in stored.secret_hash
        (entry,) = await session.scalars(
            select(AuditEntry).where(AuditEntry.entity_id == created["client_id"])
        )
    assert (entry.action, entry.entity_type, entry.before) == (
        "client.registered",
        "api_client",
        None,
    )
    assert entry.after is not None and entry.after["community_id"] == COMMUNITY
    assert "client_secret" not in entry.after and secret not in str(entry.after)


async def test_only_platform_admins_register_list_and_revoke_clients(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    admin = await _admin(client, sessionmaker)
    created = await _register(client, admin, **_service())
    member = bearer(await register_and_login(client, "anna"))
    for method, path, body in (
        ("POST", "/api/auth/clients/", _service()),
        ("GET", "/api/auth/clients/", None),
        ("DELETE", f"/api/auth/clients/{created['client_id']}/", None),
    ):
        refused = await client.request(method, path, json=body, headers=member)
        assert refused.status_code == 403, (method, refused.text)
        anonymous = await client.request(method, path, json=body)
        assert anonymous.status_code == 401, (method, anonymous.text)
    async with sessionmaker() as session:
        count = await session.scalar(select(func.count()).select_from(ApiClient))
        revoked = await session.scalar(
            select(ApiClient.revoked_at).where(ApiClient.client_id == created["client_id"])
        )
    assert (count, revoked) == (1, None)


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        (_partner(community_id=None), 422, "community_required", "community_id"),
        (
            _partner(scopes=["energy:read", "registry:read-iban"]),
            422,
            "scope_not_for_partners",
            "scopes",
        ),
        (_service(community_id=COMMUNITY), 422, "community_not_allowed", "community_id"),
        (_service(scopes=["energy:write"]), 422, "validation_error", "scopes.0"),
        (_service(scopes=[]), 422, "validation_error", "scopes"),
        (_service(kind="ROBOT"), 422, "validation_error", "kind"),
    ],
)
async def test_bad_registrations_are_refused_naming_the_field_and_write_nothing(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    body: dict[str, Any],
    status: int,
    code: str,
    field: str,
) -> None:
    admin = await _admin(client, sessionmaker)
    refused = await client.post("/api/auth/clients/", json=body, headers=admin)
    assert refused.status_code == status, refused.text
    (error,) = refused.json()["errors"]
    assert (error["code"], error["field"]) == (code, field)
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(ApiClient)) == 0
        # (The administrator's login is in the trail too: clients are not.)
        clients_audited = select(func.count()).where(AuditEntry.entity_type == "api_client")
        assert await session.scalar(clients_audited) == 0


async def test_a_token_by_http_basic_or_by_the_form_carries_scopes_and_the_partner_community(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    admin = await _admin(client, sessionmaker)
    partner = await _register(client, admin, **_partner())
    platform = await _register(client, admin, **_service())
    by_basic = await _token(
        client,
        {"grant_type": "client_credentials"},
        _basic(partner["client_id"], partner["client_secret"]),
    )
    assert by_basic.status_code == 200, by_basic.text
    body = by_basic.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 900)
    assert body["scope"] == "economic:read energy:read"
    assert by_basic.headers["cache-control"] == "no-store"
    claims = _claims(body["access_token"])
    assert claims["sub"] == f"client:{partner['client_id']}"
    assert (claims["token_use"], claims["community_id"]) == ("client", COMMUNITY)
    assert "username" not in claims and "user_type" not in claims
    assert jwt.get_unverified_header(body["access_token"])["alg"] == "RS256"

    by_form = await _token(
        client,
        {
            "grant_type": "client_credentials",
            "client_id": platform["client_id"],
            "client_secret": platform["client_secret"],
            "scope": "registry:read-iban",
        },
    )
    assert by_form.status_code == 200, by_form.text
    claims = _claims(by_form.json()["access_token"])
    assert claims["scope"] == "registry:read-iban"
    assert "community_id" not in claims  # a platform service serves every community


async def test_wrong_secret_unknown_client_and_revoked_client_get_invalid_client(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    admin = await _admin(client, sessionmaker)
    created = await _register(client, admin, **_partner())
    client_id, secret = created["client_id"], created["client_secret"]
    grant = {"grant_type": "client_credentials"}
    wrong = await _token(client, grant, _basic(client_id, secret[:-1] + "x"))
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    assert wrong.json()["errors"][0]["code"] == "invalid_client"
    assert wrong.headers["www-authenticate"].startswith("Basic")
    unknown = await _token(client, grant | {"client_id": "cerc-nobody", "client_secret": secret})
    assert (unknown.status_code, unknown.json()["error"]) == (401, "invalid_client")
    assert "www-authenticate" not in unknown.headers  # not a Basic login
    assert (await _token(client, grant, _basic(client_id, secret))).status_code == 200

    revoked = await client.delete(f"/api/auth/clients/{client_id}/", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["data"]["revoked_at"] is not None
    after = await _token(client, grant, _basic(client_id, secret))
    assert (after.status_code, after.json()["error"]) == (401, "invalid_client")
    listed = await client.get("/api/auth/clients/", headers=admin)
    assert client_id not in listed.text
    every = await client.get("/api/auth/clients/?include_revoked=true", headers=admin)
    assert client_id in every.text
    async with sessionmaker() as session:
        actions = [
            (e.action, e.before is not None)
            for e in await session.scalars(
                select(AuditEntry).where(AuditEntry.entity_id == client_id).order_by(AuditEntry.id)
            )
        ]
    assert actions == [("client.registered", False), ("client.revoked", True)]
    missing = await client.delete("/api/auth/clients/cerc-nobody/", headers=admin)
    assert missing.status_code == 404


async def test_malformed_token_requests_get_the_rfc_6749_error(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    admin = await _admin(client, sessionmaker)
    created = await _register(client, admin, **_partner())
    auth = _basic(created["client_id"], created["client_secret"])
    form = {"client_id": created["client_id"], "client_secret": created["client_secret"]}
    cases: list[tuple[httpx.Response, int, str, str | None]] = [
        (
            await _token(client, {"scope": "energy:read"}, auth),
            400,
            "invalid_request",
            "grant_type",
        ),
        (
            await _token(client, {"grant_type": "password"}, auth),
            400,
            "unsupported_grant_type",
            "grant_type",
        ),
        (
            await client.post(
                "/api/auth/token/", json={"grant_type": "client_credentials"}, headers=auth
            ),
            400,
            "invalid_request",
            "content-type",
        ),
        (
            await client.post(
                "/api/auth/token/",
                content="grant_type=client_credentials&grant_type=client_credentials",
                headers=auth | {"Content-Type": "application/x-www-form-urlencoded"},
            ),
            400,
            "invalid_request",
            "grant_type",
        ),
        (  # two ways of authenticating at once
            await _token(client, {"grant_type": "client_credentials"} | form, auth),
            400,
            "invalid_request",
            None,
        ),
        (  # no client authentication at all
            await _token(client, {"grant_type": "client_credentials"}),
            401,
            "invalid_client",
            "client_id",
        ),
        (
            await _token(
                client, {"grant_type": "client_credentials", "scope": "registry:read"}, auth
            ),
            400,
            "invalid_scope",
            "scope",
        ),
        (
            await _token(
                client, {"grant_type": "client_credentials", "scope": "energy:write"}, auth
            ),
            400,
            "invalid_scope",
            "scope",
        ),
        (
            await _token(
                client,
                {"grant_type": "client_credentials"},
                {"Authorization": "Basic not-base64!"},
            ),
            401,
            "invalid_client",
            None,
        ),
    ]
    for response, status, error, field in cases:
        body = response.json()
        assert (response.status_code, body["error"]) == (status, error), body
        assert body["success"] is False and body["errors"][0]["field"] == field, body
        assert body["error_description"] == body["errors"][0]["message"]
        assert response.headers["cache-control"] == "no-store"
    narrowed = await _token(
        client, {"grant_type": "client_credentials", "scope": "energy:read"}, auth
    )
    assert narrowed.status_code == 200 and narrowed.json()["scope"] == "energy:read"


async def test_a_client_token_is_refused_on_user_routes(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    admin = await _admin(client, sessionmaker)
    created = await _register(client, admin, **_service())
    issued = await _token(
        client,
        {"grant_type": "client_credentials"},
        _basic(created["client_id"], created["client_secret"]),
    )
    token = {"Authorization": f"Bearer {issued.json()['access_token']}"}
    for method, path in (
        ("GET", "/api/users/me/"),
        ("GET", "/api/users/"),
        ("GET", "/api/auth/clients/"),
        ("POST", "/api/auth/2fa/setup/"),
    ):
        refused = await client.request(method, path, headers=token)
        assert refused.status_code == 401, (path, refused.text)
        assert refused.json()["errors"][0]["code"] == "invalid_token"


def _internal_app(user_app: FastAPI) -> FastAPI:
    """What another service does: an internal route behind `require_client_scope`, verifying
    with the keys of the user service (here its own verifier, as a JWKS cache would)."""
    internal = FastAPI()
    install_error_handlers(internal)
    internal.state.token_verifier = user_app.state.token_verifier

    @internal.get("/internal/communities/{community_id}/energy/")
    async def energy(
        community_id: int,
        caller: Annotated[ClientPrincipal, require_client_scope(Scope.ENERGY_READ)],
    ) -> Any:
        caller.check_community(community_id)
        return ok({"client_id": caller.client_id, "community_id": community_id})

    return internal


async def test_internal_routes_need_a_client_token_with_the_scope_and_the_community(
    app: FastAPI, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    admin = await _admin(client, sessionmaker)
    grant = {"grant_type": "client_credentials"}

    async def token_of(body: dict[str, Any], scope: str | None = None) -> dict[str, str]:
        created = await _register(client, admin, **body)
        form = grant | ({"scope": scope} if scope else {})
        issued = await _token(client, form, _basic(created["client_id"], created["client_secret"]))
        assert issued.status_code == 200, issued.text
        return {"Authorization": f"Bearer {issued.json()['access_token']}"}

    partner = await token_of(_partner())
    platform = await token_of(_service())
    no_energy = await token_of(_partner(), scope="economic:read")
    user = bearer(await register_and_login(client, "anna"))
    transport = httpx.ASGITransport(app=_internal_app(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://energy") as internal:
        path = "/internal/communities/{}/energy/"
        mine = await internal.get(path.format(COMMUNITY), headers=partner)
        assert mine.status_code == 200, mine.text
        assert mine.json()["data"]["community_id"] == COMMUNITY
        other = await internal.get(path.format(COMMUNITY + 1), headers=partner)
        assert other.status_code == 404
        anywhere = await internal.get(path.format(COMMUNITY + 1), headers=platform)
        assert anywhere.status_code == 200
        missing_scope = await internal.get(path.format(COMMUNITY), headers=no_energy)
        assert missing_scope.status_code == 403
        (error,) = missing_scope.json()["errors"]
        assert (error["code"], error["expected"]) == ("insufficient_scope", "energy:read")
        assert 'error="insufficient_scope"' in missing_scope.headers["www-authenticate"]
        by_user = await internal.get(path.format(COMMUNITY), headers=user)
        assert by_user.status_code == 403
        assert by_user.json()["errors"][0]["code"] == "client_token_required"
        anonymous = await internal.get(path.format(COMMUNITY))
        assert anonymous.status_code == 401
        forged = await internal.get(
            path.format(COMMUNITY), headers={"Authorization": partner["Authorization"] + "x"}
        )
        assert forged.status_code == 401


async def test_the_kernel_token_source_gets_caches_and_loses_a_token_from_this_endpoint(
    app: FastAPI, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """`cerc_shared.service_tokens.ClientCredentials`, as the economic service uses it,
    against this service: a token the kernel verifier accepts with the scope asked for,
    fetched once, refused with invalid_client once the client is revoked."""
    admin = await _admin(client, sessionmaker)
    platform = await _register(client, admin, **_service())
    tokens = ClientCredentials(
        "http://user/api/auth/token/",
        platform["client_id"],
        platform["client_secret"],
        scope="registry:read-iban",
        transport=httpx.ASGITransport(app=app),
    )
    token = await tokens.token()
    assert await tokens.token() == token and tokens.fetches == 1
    verified = await app.state.token_verifier.verify_client(token)
    assert verified.client_id == platform["client_id"]
    assert verified.scopes == frozenset({"registry:read-iban"})

    narrower = ClientCredentials(
        "http://user/api/auth/token/",
        platform["client_id"],
        platform["client_secret"],
        scope="economic:read",
        transport=httpx.ASGITransport(app=app),
    )
    with pytest.raises(ClientTokenError) as not_granted:
        await narrower.token()
    assert not_granted.value.error == "invalid_scope"

    revoked = await client.delete(f"/api/auth/clients/{platform['client_id']}/", headers=admin)
    assert revoked.status_code == 200
    assert await tokens.token() == token  # an issued token lives out its TTL
    tokens.invalidate()
    with pytest.raises(ClientTokenError) as refused:
        await tokens.token()
    assert refused.value.error == "invalid_client"


async def test_ensure_service_client_registers_a_chosen_id_once_and_follows_its_secret(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """What `cerc-user ensure-client` does for the development fleet's fixed dev clients."""
    await _admin(client, sessionmaker)
    scopes = [Scope.ENERGY_READ, Scope.REGISTRY_READ_IBAN]
    for secret in ("first-dev-only-secret", "first-dev-only-secret", "second-dev-only-secret"):
        async with sessionmaker() as session:
            root = await service.admin_by_username(session, "root")
            actor = Principal(user_id=root.id, username="root", user_type="ADMIN", token_id="")
            await clients.ensure_service_client(
                session, actor, client_id="cerc-dev-x", name="x", scopes=scopes, secret=secret
            )
            await session.commit()
        issued = await _token(
            client, {"grant_type": "client_credentials"}, _basic("cerc-dev-x", secret)
        )
        assert issued.status_code == 200, issued.text
        assert issued.json()["scope"] == "energy:read registry:read-iban"
    old = await _token(
        client, {"grant_type": "client_credentials"}, _basic("cerc-dev-x", "first-dev-only-secret")
    )
    assert old.status_code == 401
    async with sessionmaker() as session:
        rows = (
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.entity_id == "cerc-dev-x")
            )
        ).all()
    assert sorted(rows) == ["client.registered", "client.updated"]
