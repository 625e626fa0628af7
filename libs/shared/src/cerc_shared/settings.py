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

import ssl
from typing import Any, Literal

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values that mark a development key. Any secret setting that still contains
# one of these markers is refused outside development and test.
DEVELOPMENT_KEY_MARKERS = ("_dev", "dev-only", "DEVELOPMENT KEY")

Environment = Literal["development", "test", "production"]


def namespaced(namespace: str, name: str) -> str:
    """The physical Kafka name of a topic or consumer group in ``namespace``."""
    return f"{namespace}.{name}" if namespace else name


def kafka_client_options(
    protocol: str,
    *,
    username: str = "",
    password: str = "",
    mechanism: str = "SCRAM-SHA-512",
    cafile: str = "",
) -> dict[str, Any]:
    """aiokafka's connection options for ``protocol`` (see ServiceSettings)."""
    if protocol == "PLAINTEXT":
        return {}
    if not username or not password:
        raise ValueError(f"Kafka {protocol} needs a SASL user name and password")
    options: dict[str, Any] = {
        "security_protocol": protocol,
        "sasl_mechanism": mechanism,
        "sasl_plain_username": username,
        "sasl_plain_password": password,
    }
    if protocol == "SASL_SSL":
        options["ssl_context"] = ssl.create_default_context(cafile=cafile or None)
    return options


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
    # The bus is authenticated (SASL/SCRAM) with one principal per service and
    # authorised by topic (cerc_shared.bus_acl): PLAINTEXT only for the local
    # broker's loopback listener, SASL_PLAINTEXT on the local SASL listener,
    # SASL_SSL in production (the broker's certificate checked against
    # kafka_ssl_cafile, or the system's trust store when empty).
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512"] = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""
    kafka_sasl_password: str = ""
    kafka_ssl_cafile: str = ""
    outbox_poll_interval_s: float = 0.2

    jwks_url: str = "http://127.0.0.1:18101/api/auth/jwks/"
    jwt_issuer: str = "cercollettiva-user"
    jwt_audience: str = "cercollettiva"
    jwks_cache_ttl_s: int = 300

    # Names of the fields that hold secrets; subclasses extend this.
    secret_fields: tuple[str, ...] = ("database_url",)

    def topic(self, name: str) -> str:
        return namespaced(self.kafka_namespace, name)

    def kafka_client_options(self) -> dict[str, Any]:
        """The keyword arguments every aiokafka client of this service takes to
        reach the broker as the service's own principal."""
        return kafka_client_options(
            self.kafka_security_protocol,
            username=self.kafka_sasl_username,
            password=self.kafka_sasl_password,
            mechanism=self.kafka_sasl_mechanism,
            cafile=self.kafka_ssl_cafile,
        )

    @property
    def database_dsn(self) -> str:
        """``database_url`` as asyncpg itself takes it (no SQLAlchemy driver part)."""
        return self.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)

    @model_validator(mode="after")
    def _bus_principal_when_authenticated(self) -> ServiceSettings:
        # Caught at start-up, not at the first Kafka connection.
        if self.kafka_security_protocol != "PLAINTEXT" and not (
            self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                f"kafka_security_protocol {self.kafka_security_protocol} needs "
                "kafka_sasl_username and kafka_sasl_password (the service's principal)"
            )
        return self

    @model_validator(mode="after")
    def _refuse_development_keys_in_production(self) -> ServiceSettings:
        if self.environment in ("development", "test"):
            return self
        offending = [
            name
            # The bus password is every service's secret, whatever it lists.
            for name in dict.fromkeys((*self.secret_fields, "kafka_sasl_password"))
            if any(marker in str(getattr(self, name, "")) for marker in DEVELOPMENT_KEY_MARKERS)
        ]
        if offending:
            raise ValueError(
                f"development keys are not allowed in {self.environment}: "
                + ", ".join(sorted(offending))
            )
        return self
