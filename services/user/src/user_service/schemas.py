from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from cerc_shared.auth import Scope
from cerc_shared.ids import MAX_BIGINT
from pydantic import BaseModel, ConfigDict, EmailStr, Field

Username = Field(min_length=3, max_length=150, pattern=r"^[A-Za-z0-9_.@+-]+$")
Name = Field(min_length=1, max_length=150)
Password = Field(min_length=1, max_length=256)
Otp = Field(pattern=r"^[0-9]{6}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RegisterRequest(_Strict):
    username: str = Username
    email: EmailStr = Field(max_length=254)
    password: str = Password
    first_name: str = Name
    last_name: str = Name
    user_type: Literal["PRIVATE", "BUSINESS"] = "PRIVATE"
    language: Literal["it", "en"] = "it"


class LoginRequest(_Strict):
    username: str = Field(min_length=1, max_length=254)
    password: str = Password
    otp: str | None = Field(default=None, pattern=r"^[0-9]{6}$")


class RefreshRequest(_Strict):
    refresh_token: str = Field(min_length=10, max_length=200)


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    email: str
    first_name: str
    last_name: str
    user_type: str
    is_active: bool
    language: str
    two_factor_enabled: bool
    created_at: datetime
    updated_at: datetime


class UserPatch(_Strict):
    email: EmailStr | None = Field(default=None, max_length=254)
    first_name: str | None = Field(default=None, min_length=1, max_length=150)
    last_name: str | None = Field(default=None, min_length=1, max_length=150)
    user_type: Literal["PRIVATE", "BUSINESS"] | None = None
    language: Literal["it", "en"] | None = None


class AdminUserPatch(_Strict):
    is_active: bool | None = None
    user_type: Literal["PRIVATE", "BUSINESS", "ADMIN"] | None = None


class PasswordChange(_Strict):
    current_password: str = Password
    new_password: str = Password


class TwoFactorSetup(BaseModel):
    secret: str
    otpauth_uri: str


class OtpRequest(_Strict):
    otp: str = Otp


class TwoFactorDisable(_Strict):
    password: str = Password
    otp: str = Otp


class Jwks(BaseModel):
    keys: list[dict[str, Any]]


# ---------------------------------------------------------------- OAuth 2.0 clients


class ClientIn(_Strict):
    name: str = Field(min_length=1, max_length=150)
    kind: Literal["SERVICE", "PARTNER"]
    scopes: list[Scope] = Field(min_length=1, max_length=len(Scope))
    community_id: int | None = Field(default=None, ge=1, le=MAX_BIGINT)


class ClientOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    client_id: str
    name: str
    kind: str
    scopes: list[str]
    community_id: int | None
    created_by: int
    created_at: datetime
    revoked_at: datetime | None


class ClientCreated(ClientOut):
    # Shown once, in the answer to the registration; only its argon2 hash is kept.
    client_secret: str


class ClientToken(BaseModel):
    """RFC 6749 §5.1, not enveloped: OAuth client libraries read these members at the top."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int
    scope: str


# ------------------------------------------------------------ personal data


class SignInOut(BaseModel):
    """One issued refresh token: when a sign-in (or its refresh) happened."""

    model_config = ConfigDict(from_attributes=True)

    family_id: uuid.UUID
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


class AccountActionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    action: str
    entity_type: str
    entity_id: str


class AccountExport(BaseModel):
    """Everything the user service holds about the caller (GDPR art. 15/20);
    no secret: password and TOTP hashes and token hashes stay out."""

    profile: UserOut
    sign_ins: list[SignInOut]
    actions: list[AccountActionOut]
    exported_at: datetime


class AccountErasure(_Strict):
    password: str = Password
    # Required when two-step verification is on.
    otp: str | None = Field(default=None, pattern=r"^[0-9]{6}$")


class AccountErasureOut(BaseModel):
    user_id: int
    erased_at: datetime
    # What is kept, and why (the law): shown to the person as is.
    retained: list[str]
