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
    # Until the client-credentials flow is on main the call carries this token;
    # empty: none (development against a local energy service).
    energy_token: str = ""
    energy_timeout_s: float = 60.0

    # The registry read model (cer.v1, membership.v1, plant.v1).
    consume_read_models: bool = True
    # Settlement jobs: a worker takes queued runs; between wake-ups it polls.
    settle_jobs: bool = True
    settle_poll_interval_s: float = 1.0

    secret_fields: tuple[str, ...] = ("database_url", "energy_token")
