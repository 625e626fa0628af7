from __future__ import annotations

from cerc_shared.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class EconomicSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CERC_ECONOMIC_", extra="ignore", frozen=True)

    service_name: str = "economic"
    database_url: str = (
        "postgresql+asyncpg://economic_svc:economic_dev@127.0.0.1:15432/cercollettiva"
    )
    database_schema: str = "economic"

    # The energy service's internal API (never routed by the gateway): the
    # hourly fed-in and withdrawn energy per POD of a community month.
    energy_url: str = "http://127.0.0.1:18104"
    energy_timeout_s: float = 60.0
    # The CER service's internal API: members' IBANs for payouts.
    cer_url: str = "http://127.0.0.1:18102"

    # This service's own OAuth 2.0 client (client credentials, RFC 6749 §4.4) at the
    # user service, granted energy:read and registry:read-iban: the token the
    # internal calls carry. Empty id: the calls carry no token (and are refused
    # by a real peer, so the run fails saying so).
    token_url: str = "http://127.0.0.1:18101/api/auth/token/"  # noqa: S105 - a URL
    client_id: str = ""
    client_secret: str = ""

    # The registry read model (cer.v1, membership.v1, plant.v1).
    consume_read_models: bool = True
    # Settlement jobs: a worker takes queued runs; between wake-ups it polls.
    settle_jobs: bool = True
    settle_poll_interval_s: float = 1.0

    secret_fields: tuple[str, ...] = ("database_url", "client_secret")
