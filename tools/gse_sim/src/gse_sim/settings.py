from __future__ import annotations

from decimal import Decimal

from pydantic_settings import BaseSettings, SettingsConfigDict


class GseSimSettings(BaseSettings):
    """Environment: GSE_SIM_PORT (from infra/ports.env), GSE_SIM_ADMIN_TOKEN, ..."""

    model_config = SettingsConfigDict(env_prefix="GSE_SIM_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = 18090
    # Development keys, not secrets: the simulator only ever listens on loopback.
    admin_token: str = "gse_sim_admin_dev"  # noqa: S105 (development key)
    dev_client_id: str = "cerc_referente_dev"
    dev_client_secret: str = "cerc_referente_dev_secret"  # noqa: S105 (development key)

    token_ttl_s: int = 3600
    # Requests a client may make per minute (a token bucket of this size) before 429.
    rate_limit_per_minute: int = 600
    max_page_size: int = 1000
    max_measurement_page_size: int = 10_000

    # The GSE publishes a month's figures on this day of the following month.
    publication_day: int = 25
    # Payments below this are carried over to the next payment run.
    minimum_payment_eur: Decimal = Decimal(50)
    # Zonal price Pz for the hours no price was loaded for (PUT /admin/prices).
    default_price_eur_mwh: Decimal = Decimal(110)
    # TRASe for a year neither the rules engine's table nor PUT /admin/trase gives.
    default_trase_eur_mwh: Decimal = Decimal("10.57")
