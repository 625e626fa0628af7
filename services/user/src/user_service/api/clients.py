"""OAuth 2.0 client credentials: the token endpoint, and the registry of clients that platform
administrators keep."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any
from urllib.parse import parse_qsl, unquote_plus

from cerc_shared.auth import PlatformAdmin
from cerc_shared.db import DbSession
from cerc_shared.envelope import Envelope, ErrorItem, PageMeta, ok
from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import JSONResponse

from user_service import clients
from user_service.api.deps import Auth
from user_service.clients import GRANT_TYPE, ClientCredentials, OAuthError
from user_service.schemas import ClientCreated, ClientIn, ClientOut, ClientToken

router = APIRouter(prefix="/api/auth", tags=["clients"])

#: A client-credentials request is four short parameters; anything much bigger is not one.
MAX_TOKEN_REQUEST_BYTES = 4096
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_FORM = "application/x-www-form-urlencoded"

_TOKEN_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            _FORM: {
                "schema": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": [GRANT_TYPE]},
                        "scope": {"type": "string", "description": "space-separated subset"},
                        "client_id": {"type": "string", "description": "unless HTTP Basic"},
                        "client_secret": {"type": "string", "description": "unless HTTP Basic"},
                    },
                }
            }
        },
    }
}


def _oauth_error(exc: OAuthError) -> JSONResponse:
    """The envelope every answer carries, plus RFC 6749 §5.2's `error` and
    `error_description`, which OAuth client libraries look for."""
    item: ErrorItem = exc.errors[0]
    body = Envelope[Any](success=False, errors=exc.errors).model_dump(mode="json")
    body |= {"error": exc.error, "error_description": item.message}
    return JSONResponse(
        body, status_code=exc.status_code, headers={**_NO_STORE, **(exc.headers or {})}
    )


def _invalid_request(message: str, field: str | None = None) -> OAuthError:
    return OAuthError(400, "invalid_request", message, field=field)


async def _form(request: Request) -> dict[str, str]:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != _FORM:
        raise OAuthError(
            400,
            "invalid_request",
            "the token request is a form",
            field="content-type",
            expected=_FORM,
        )
    body = await request.body()
    if len(body) > MAX_TOKEN_REQUEST_BYTES:
        raise _invalid_request(f"the request exceeds {MAX_TOKEN_REQUEST_BYTES} bytes")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _invalid_request("the form is not UTF-8 URL-encoded text") from exc
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:
            raise _invalid_request(f"{key} is given more than once", field=key)
        # RFC 6749 §3.1: a parameter without a value is treated as omitted.
        if value:
            form[key] = value
    return form


def _credentials(request: Request, form: dict[str, str]) -> ClientCredentials:
    """HTTP Basic (RFC 6749 §2.3.1, id and secret form-encoded) or the form's client_id and
    client_secret; never both."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        if "client_secret" in form:
            raise _invalid_request("authenticate the client one way: HTTP Basic or the form")
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        client_id, colon, secret = decoded.partition(":")
        if not colon or not client_id or not secret:
            raise OAuthError(
                401,
                "invalid_client",
                "HTTP Basic credentials are not client_id:client_secret",
                headers={"WWW-Authenticate": 'Basic realm="cercollettiva"'},
            )
        client_id, secret = unquote_plus(client_id), unquote_plus(secret)
        if form.get("client_id", client_id) != client_id:
            raise _invalid_request("client_id differs from the HTTP Basic user", "client_id")
        return ClientCredentials(client_id, secret, by_basic_auth=True)
    if "client_id" not in form or "client_secret" not in form:
        raise OAuthError(
            401,
            "invalid_client",
            "client authentication is required: HTTP Basic, or client_id and client_secret",
            field="client_secret" if "client_id" in form else "client_id",
        )
    return ClientCredentials(form["client_id"], form["client_secret"], by_basic_auth=False)


@router.post(
    "/token/",
    response_model=ClientToken,
    openapi_extra=_TOKEN_REQUEST_BODY,
    responses={400: {"description": "RFC 6749 §5.2"}, 401: {"description": "invalid_client"}},
)
async def token(request: Request, session: DbSession, auth: Auth) -> JSONResponse:
    """OAuth 2.0 token endpoint, `grant_type=client_credentials` only (RFC 6749 §4.4)."""
    try:
        form = await _form(request)
        grant_type = form.get("grant_type")
        if grant_type is None:
            raise OAuthError(
                400,
                "invalid_request",
                "grant_type is required",
                field="grant_type",
                expected=GRANT_TYPE,
            )
        if grant_type != GRANT_TYPE:
            raise OAuthError(
                400,
                "unsupported_grant_type",
                f"grant_type {grant_type!r} is not supported",
                field="grant_type",
                expected=GRANT_TYPE,
            )
        issued = await clients.issue_token(
            session, auth, _credentials(request, form), form.get("scope")
        )
    except OAuthError as exc:
        return _oauth_error(exc)
    return JSONResponse(issued.model_dump(), headers=_NO_STORE)


ClientId = Annotated[str, Path(min_length=1, max_length=64)]


@router.post("/clients/", status_code=status.HTTP_201_CREATED)
async def register_client(
    body: ClientIn, session: DbSession, admin: PlatformAdmin
) -> Envelope[ClientCreated]:
    client, secret = await clients.register_client(session, admin, body)
    out = ClientOut.model_validate(client).model_dump()
    return ok(ClientCreated(**out, client_secret=secret))


@router.get("/clients/")
async def list_clients(
    session: DbSession,
    _: PlatformAdmin,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
    include_revoked: bool = False,
) -> Envelope[list[ClientOut]]:
    rows, total = await clients.list_clients(
        session, page=page, per_page=per_page, include_revoked=include_revoked
    )
    return ok(
        [ClientOut.model_validate(c) for c in rows],
        PageMeta(page=page, per_page=per_page, total=total),
    )


@router.delete("/clients/{client_id}/")
async def revoke_client(
    client_id: ClientId, session: DbSession, admin: PlatformAdmin
) -> Envelope[ClientOut]:
    """Revoked: no new token. A token already issued lives out its short TTL."""
    return ok(ClientOut.model_validate(await clients.revoke_client(session, admin, client_id)))
