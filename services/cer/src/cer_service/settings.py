from __future__ import annotations

from cerc_shared.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict

# Development key: 32 bytes named "dev-only" so a production start refuses it.
_DEV_DATA_KEY = "dev-only:Y2VyLWRldmVsb3BtZW50LWtleS1ub3QtYS1zZWNyZXQ="


class CerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CERC_CER_", extra="ignore", frozen=True)

    service_name: str = "cer"
    database_url: str = "postgresql+asyncpg://cer_svc:cer_dev@127.0.0.1:15432/cercollettiva"
    database_schema: str = "cer"

    # Field encryption (codice fiscale, partita IVA, IBAN): "kid:base64,kid2:base64"
    # and the kid new writes use; older kids keep opening old rows (rotation).
    data_keys: str = _DEV_DATA_KEY
    data_key_current: str = "dev-only"

    # Documents (statute, regulation, logo) go to a local folder by default.
    storage_dir: str = ".run/cer/documents"
    max_document_bytes: int = 10 * 1024 * 1024
    max_logo_bytes: int = 1024 * 1024
    # How long an invitation to join a community may be accepted.
    invitation_days: int = 14

    # Answers of the hot reads (summary, plant pages) kept per process, keyed by
    # the community's registry version (read_cache.py); 0 turns the cache off.
    read_cache_bytes: int = 64 * 1024 * 1024
    # Stamps (registry version and the caller's role) remembered per process
    # until PostgreSQL announces a change (registry_watch.py); 0: every hot
    # read asks the database.
    registry_watch_stamps: int = 200_000

    # The read model of users is fed from user.v1. The consumer group names
    # the database so two fleets on one broker (dev and e2e) each see every event.
    consume_users: bool = True
    users_consumer_group: str = ""

    secret_fields: tuple[str, ...] = ("database_url", "data_keys")

    @property
    def consumer_group(self) -> str:
        if self.users_consumer_group:
            return self.users_consumer_group
        database = self.database_url.rsplit("/", 1)[-1].split("?", 1)[0]
        return f"cer-users.{database}"
