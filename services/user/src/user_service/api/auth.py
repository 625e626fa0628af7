from __future__ import annotations

from typing import Annotated

from cerc_shared.auth import CurrentPrincipal
from cerc_shared.db import DbSession
from cerc_shared.envelope import Envelope, ok
from fastapi import APIRouter, Header, status

from user_service import service
from user_service.api.deps import Auth, ClientAddress
from user_service.schemas import (
    Jwks,
    LoginRequest,
    OtpRequest,
    RefreshRequest,
    RegisterRequest,
    TokenPair,
    TwoFactorDisable,
    TwoFactorSetup,
    UserOut,
)

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/register/", status_code=status.HTTP_201_CREATED)
async def register(body: RegisterRequest, session: DbSession) -> Envelope[UserOut]:
    user = await service.register(session, body)
    return ok(UserOut.model_validate(user))


@router.post("/login/")
async def login(
    body: LoginRequest,
    session: DbSession,
    auth: Auth,
    address: ClientAddress,
    user_agent: Annotated[str | None, Header(max_length=512)] = None,
) -> Envelope[TokenPair]:
    return ok(await service.login(session, auth, body, address=address, user_agent=user_agent))


@router.post("/refresh/")
async def refresh(body: RefreshRequest, session: DbSession, auth: Auth) -> Envelope[TokenPair]:
    return ok(await service.refresh(session, auth, body.refresh_token))


@router.post("/logout/")
async def logout(
    body: RefreshRequest, session: DbSession, principal: CurrentPrincipal
) -> Envelope[None]:
    await service.logout(session, principal, body.refresh_token)
    return ok(None)


@router.get("/jwks/")
async def jwks(auth: Auth) -> Jwks:
    # Plain JWKS (no envelope): Envoy and JWT libraries read it as the RFC says.
    return Jwks(keys=[auth.signing_key.jwk()])


@router.post("/2fa/setup/")
async def two_factor_setup(
    session: DbSession, auth: Auth, principal: CurrentPrincipal
) -> Envelope[TwoFactorSetup]:
    return ok(await service.start_two_factor(session, auth, principal.user_id))


@router.post("/2fa/confirm/")
async def two_factor_confirm(
    body: OtpRequest, session: DbSession, auth: Auth, principal: CurrentPrincipal
) -> Envelope[UserOut]:
    user = await service.confirm_two_factor(session, auth, principal, body.otp)
    return ok(UserOut.model_validate(user))


@router.post("/2fa/disable/")
async def two_factor_disable(
    body: TwoFactorDisable, session: DbSession, auth: Auth, principal: CurrentPrincipal
) -> Envelope[UserOut]:
    user = await service.disable_two_factor(session, auth, principal.user_id, body)
    return ok(UserOut.model_validate(user))
