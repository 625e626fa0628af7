from __future__ import annotations

from cerc_shared.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict

# Development keys: 32 zero-ish bytes named "dev-only" so a production start refuses them.
_DEV_DATA_KEY = "dev-only:ZGV2ZWxvcG1lbnQta2V5LW5vdC1hLXNlY3JldC0zMmI="


class UserSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CERC_USER_", extra="ignore", frozen=True)

    service_name: str = "user"
    database_url: str = "postgresql+asyncpg://user_svc:user_dev@127.0.0.1:15432/cercollettiva"
    database_schema: str = "user"

    # RS256 signing key (PEM). Outside development it must be given; in
    # development a key is generated once into ``jwt_private_key_file``.
    jwt_private_key: str = ""
    jwt_private_key_file: str = ".run/user/jwt-dev-only.pem"
    access_token_ttl_s: int = 900
    # Sliding: each refresh gives this much more, never beyond the login's
    # absolute end (session_max_s after the password was typed).
    refresh_token_ttl_s: int = 14 * 24 * 3600
    session_max_s: int = 30 * 24 * 3600
    # Client-credentials tokens are not revocable once issued (services verify them offline):
    # a revoked client's last token lives at most this long.
    client_token_ttl_s: int = 900

    # Field encryption (TOTP secrets): "kid:base64,kid2:base64", current kid.
    data_keys: str = _DEV_DATA_KEY
    data_key_current: str = "dev-only"

    # Login throttle per account and address: this many failures (password or
    # one-time code) are free, then each further one blocks that address for
    # that account for base * 2^(n - free) seconds, at most throttle_max_s. A
    # streak quiet for throttle_forget_s starts again.
    max_failed_logins: int = 5
    throttle_base_s: int = 2
    throttle_max_s: int = 900
    throttle_forget_s: int = 24 * 3600
    # Set by the gateway from the connection's address (a client's own copy is
    # overwritten there); without it the peer address counts.
    client_address_header: str = "x-cerc-client-address"
    totp_issuer: str = "CerCollettiva"

    secret_fields: tuple[str, ...] = ("database_url", "jwt_private_key", "data_keys")

    def model_post_init(self, __context: object) -> None:
        if self.environment == "production" and not self.jwt_private_key:
            raise ValueError("CERC_USER_JWT_PRIVATE_KEY is required in production")
