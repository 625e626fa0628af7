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
    refresh_token_ttl_s: int = 30 * 24 * 3600
    # Client-credentials tokens are not revocable once issued (services verify them offline):
    # a revoked client's last token lives at most this long.
    client_token_ttl_s: int = 900

    # Field encryption (TOTP secrets): "kid:base64,kid2:base64", current kid.
    data_keys: str = _DEV_DATA_KEY
    data_key_current: str = "dev-only"

    max_failed_logins: int = 5
    lockout_s: int = 900
    totp_issuer: str = "CerCollettiva"

    secret_fields: tuple[str, ...] = ("database_url", "jwt_private_key", "data_keys")

    def model_post_init(self, __context: object) -> None:
        if self.environment == "production" and not self.jwt_private_key:
            raise ValueError("CERC_USER_JWT_PRIVATE_KEY is required in production")
