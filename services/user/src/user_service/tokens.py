"""Signing: RS256 access tokens, opaque refresh tokens, and the JWKS.

Access tokens are short-lived and stateless. Refresh tokens are random
secrets; only their SHA-256 is stored, so a database leak does not leak
sessions.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cerc_shared.auth import ALGORITHM, CLIENT_SUBJECT_PREFIX, CLIENT_TOKEN_USE
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from user_service.settings import UserSettings


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    def jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.public_key))
        return {**jwk, "kid": self.kid, "use": "sig", "alg": ALGORITHM}


def _kid(public_key: rsa.RSAPublicKey) -> str:
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()[:16]


def load_signing_key(settings: UserSettings) -> SigningKey:
    pem = settings.jwt_private_key.encode()
    if not pem:
        # Development only (settings refuse production without a key): one
        # key per checkout, kept so tokens survive a restart.
        path = Path(settings.jwt_private_key_file)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            path.write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            path.chmod(0o600)
        pem = path.read_bytes()
    private_key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise ValueError("the JWT signing key must be an RSA private key")
    return SigningKey(kid=_kid(private_key.public_key()), private_key=private_key)


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_in: int


def issue_access_token(
    key: SigningKey,
    settings: UserSettings,
    *,
    user_id: int,
    username: str,
    user_type: str,
    session_id: uuid.UUID,
) -> AccessToken:
    now = datetime.now(UTC)
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": str(user_id),
        "username": username,
        "user_type": user_type,
        "token_use": "access",
        "iat": now,
        "exp": now + timedelta(seconds=settings.access_token_ttl_s),
        "jti": uuid.uuid4().hex,
        # The login it belongs to: ending "every other session" spares this one.
        "sid": str(session_id),
    }
    token = jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})
    return AccessToken(token=token, expires_in=settings.access_token_ttl_s)


def issue_client_token(
    key: SigningKey,
    settings: UserSettings,
    *,
    client_id: str,
    scopes: list[str],
    community_id: int | None,
) -> AccessToken:
    """RS256 like a user's access token, from the same key, but a subject no user route accepts
    (`client:<id>`, `token_use: client`); a partner's token names its one community."""
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": f"{CLIENT_SUBJECT_PREFIX}{client_id}",
        "token_use": CLIENT_TOKEN_USE,
        "scope": " ".join(scopes),
        "iat": now,
        "exp": now + timedelta(seconds=settings.client_token_ttl_s),
        "jti": uuid.uuid4().hex,
    }
    if community_id is not None:
        claims["community_id"] = community_id
    token = jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})
    return AccessToken(token=token, expires_in=settings.client_token_ttl_s)


def new_client_id() -> str:
    return f"cerc-{secrets.token_hex(10)}"


def new_client_secret() -> str:
    return secrets.token_urlsafe(32)


def new_refresh_secret() -> str:
    return secrets.token_urlsafe(32)


def refresh_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
