"""OAuth 2.0 client credentials (RFC 6749 §4.4): registered clients and their tokens.

Two kinds of client: a platform SERVICE (the economic service reading energy and IBANs, say),
which may be granted any scope for every community, and a PARTNER (a third party), bound to one
community and to the read-only `PARTNER_SCOPES`, never IBANs. Only a platform administrator
registers or revokes a client, and each registration and revocation is in the audit log. The
secret is shown once and stored as its argon2 hash, like a password. Flushes, never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cerc_shared.auth import PARTNER_SCOPES, Principal, Scope
from cerc_shared.envelope import ApiError, NotFound
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool

from user_service import passwords, tokens
from user_service.models import ApiClient, audit
from user_service.repository import ClientRepository
from user_service.schemas import ClientIn, ClientOut, ClientToken
from user_service.service import AuthContext

GRANT_TYPE = "client_credentials"


class OAuthError(ApiError):
    """A token-endpoint refusal with its RFC 6749 §5.2 `error` code."""

    def __init__(
        self,
        status_code: int,
        error: str,
        message: str,
        *,
        field: str | None = None,
        expected: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(
            status_code, error, message, field=field, expected=expected, headers=headers
        )
        self.error = error


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    client_secret: str
    by_basic_auth: bool  # RFC 6749 §5.2: a refused Basic login answers with WWW-Authenticate


def _snapshot(client: ApiClient) -> dict[str, Any]:
    return ClientOut.model_validate(client).model_dump(mode="json")


async def _audit(
    session: AsyncSession,
    actor: Principal,
    action: str,
    client: ApiClient,
    before: dict[str, Any] | None,
) -> None:
    await audit.record(
        session,
        action,
        entity_type="api_client",
        entity_id=client.client_id,
        actor_user_id=actor.user_id,
        before=before,
        after=_snapshot(client),
    )


async def register_client(
    session: AsyncSession, actor: Principal, data: ClientIn
) -> tuple[ApiClient, str]:
    """The new client and its secret (the only time the secret exists in clear)."""
    if data.kind == "PARTNER":
        if data.community_id is None:
            raise ApiError(
                422,
                "community_required",
                "a partner client is bound to one community",
                field="community_id",
                expected="the id of the partner's community",
            )
        refused = sorted(s.value for s in set(data.scopes) - PARTNER_SCOPES)
        if refused:
            raise ApiError(
                422,
                "scope_not_for_partners",
                f"a partner may not be granted {', '.join(refused)}",
                field="scopes",
                expected=" ".join(sorted(s.value for s in PARTNER_SCOPES)),
            )
    elif data.community_id is not None:
        raise ApiError(
            422,
            "community_not_allowed",
            "a platform service client serves every community; register a PARTNER to bind one",
            field="community_id",
            expected="null",
        )
    secret = tokens.new_client_secret()
    client = ApiClient(
        client_id=tokens.new_client_id(),
        name=data.name,
        kind=data.kind,
        scopes=sorted({s.value for s in data.scopes}),
        community_id=data.community_id,
        secret_hash=await run_in_threadpool(passwords.hash_password, secret),
        created_by=actor.user_id,
    )
    await ClientRepository(session).add(client)
    await _audit(session, actor, "client.registered", client, before=None)
    return client, secret


async def ensure_service_client(
    session: AsyncSession,
    actor: Principal,
    *,
    client_id: str,
    name: str,
    scopes: list[Scope],
    secret: str,
) -> ApiClient:
    """A SERVICE client with an id and secret the operator chose (the CLI, for the
    development fleet's clearly marked dev clients, which its services know by
    configuration). Idempotent: an existing client keeps its row, its secret and
    scopes set to these; a revoked one stays revoked. Audited like a registration."""
    repository = ClientRepository(session)
    client = await repository.by_client_id_for_update(client_id)
    secret_hash = await run_in_threadpool(passwords.hash_password, secret)
    if client is None:
        client = ApiClient(
            client_id=client_id,
            name=name,
            kind="SERVICE",
            scopes=sorted({s.value for s in scopes}),
            community_id=None,
            secret_hash=secret_hash,
            created_by=actor.user_id,
        )
        await repository.add(client)
        await _audit(session, actor, "client.registered", client, before=None)
        return client
    if client.kind != "SERVICE":
        raise ApiError(409, "client_exists", f"{client_id} is a {client.kind} client")
    matches = await run_in_threadpool(passwords.verify_password, client.secret_hash, secret)
    wanted = sorted({s.value for s in scopes})
    if not matches or client.scopes != wanted:
        before = _snapshot(client)
        client.secret_hash, client.scopes, client.name = secret_hash, wanted, name
        await session.flush()
        await _audit(session, actor, "client.updated", client, before=before)
    return client


async def list_clients(
    session: AsyncSession, *, page: int, per_page: int, include_revoked: bool
) -> tuple[list[ApiClient], int]:
    return await ClientRepository(session).page(
        page=page, per_page=per_page, include_revoked=include_revoked
    )


async def revoke_client(session: AsyncSession, actor: Principal, client_id: str) -> ApiClient:
    client = await ClientRepository(session).by_client_id_for_update(client_id)
    if client is None:
        raise NotFound("client")
    if client.revoked_at is None:
        before = _snapshot(client)
        client.revoked_at = datetime.now(UTC)
        await session.flush()
        await _audit(session, actor, "client.revoked", client, before=before)
    return client


def _requested_scopes(client: ApiClient, scope: str | None) -> list[str]:
    """RFC 6749 §3.3: no scope asked -> all the client was granted; otherwise a subset."""
    if scope is None:
        return list(client.scopes)
    asked = scope.split()
    unknown = sorted(set(asked) - set(Scope))
    not_granted = sorted(set(asked) - set(client.scopes))
    if not asked or unknown or not_granted:
        raise OAuthError(
            400,
            "invalid_scope",
            f"scope {' '.join(unknown or not_granted) or '(empty)'} is not granted to this client",
            field="scope",
            expected=" ".join(client.scopes),
        )
    return sorted(set(asked))


async def issue_token(
    session: AsyncSession,
    ctx: AuthContext,
    credentials: ClientCredentials,
    scope: str | None,
) -> ClientToken:
    client = await ClientRepository(session).by_client_id(credentials.client_id)
    # An unknown client costs the same argon2 check as a known one: timing does not reveal
    # which client ids exist. A revoked client is refused like a wrong secret.
    secret_hash = client.secret_hash if client is not None else passwords.DUMMY_HASH
    matches = await run_in_threadpool(
        passwords.verify_password, secret_hash, credentials.client_secret
    )
    if client is None or not matches or client.revoked_at is not None:
        raise OAuthError(
            401,
            "invalid_client",
            "client authentication failed",
            headers={"WWW-Authenticate": 'Basic realm="cercollettiva"'}
            if credentials.by_basic_auth
            else None,
        )
    scopes = _requested_scopes(client, scope)
    token = tokens.issue_client_token(
        ctx.signing_key,
        ctx.settings,
        client_id=client.client_id,
        scopes=scopes,
        community_id=client.community_id,
    )
    return ClientToken(
        access_token=token.token, expires_in=token.expires_in, scope=" ".join(scopes)
    )
