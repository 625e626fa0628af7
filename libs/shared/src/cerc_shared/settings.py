"""Typed settings every service starts from.

Each service subclasses :class:`ServiceSettings` with its own env prefix
(``CERC_USER_``, ``CERC_CER_``...). Development keys are allowed only while
``environment`` is ``development`` or ``test``: a production start with one of
them is refused, so a forgotten default never reaches a real deployment. A
service whose ``environment`` is not set runs as production (issue 12, item
11): development is always asked for explicitly (``scripts/fleet.py``, the
tests' settings and migrations, compose and the Kubernetes dev overlay).
"""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values that mark a development key. Any secret setting that still contains
# one of these markers is refused outside development and test.
DEVELOPMENT_KEY_MARKERS = ("_dev", "dev-only", "DEVELOPMENT KEY")

Environment = Literal["development", "test", "production"]


def namespaced(namespace: str, name: str) -> str:
    """The physical Kafka name of a topic or consumer group in ``namespace``."""
    return f"{namespace}.{name}" if namespace else name


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str = "service"
    environment: Environment = "production"
    log_level: str = "INFO"

    database_url: str = ""
    database_schema: str = ""
    database_pool_size: int = 10

    kafka_bootstrap: str = "127.0.0.1:19092"
    # Fleets sharing one broker (dev, e2e, contract runs) keep their topics and
    # consumer groups apart under a namespace; empty in a real deployment.
    kafka_namespace: str = ""
    outbox_poll_interval_s: float = 0.2

    jwks_url: str = "http://127.0.0.1:18101/api/auth/jwks/"
    jwt_issuer: str = "cercollettiva-user"
    jwt_audience: str = "cercollettiva"
    jwks_cache_ttl_s: int = 300

    # Names of the fields that hold secrets; subclasses extend this.
    secret_fields: tuple[str, ...] = ("database_url",)

    def topic(self, name: str) -> str:
        return namespaced(self.kafka_namespace, name)

    @property
    def database_dsn(self) -> str:
        """``database_url`` as asyncpg itself takes it (no SQLAlchemy driver part)."""
        return self.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)

    @model_validator(mode="after")
    def _refuse_development_keys_in_production(self) -> ServiceSettings:
        if self.environment in ("development", "test"):
            return self
        offending = [
            name
            for name in self.secret_fields
            if any(marker in str(getattr(self, name, "")) for marker in DEVELOPMENT_KEY_MARKERS)
        ]
        if offending:
            raise ValueError(
                f"development keys are not allowed in {self.environment}: "
                + ", ".join(sorted(offending))
            )
        return self
