from __future__ import annotations

from cerc_shared.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict

# Development key: 32 bytes named "dev-only" so a production start refuses it.
_DEV_DATA_KEY = "dev-only:ZWNvbm9taWMtZGV2ZWxvcG1lbnQta2V5LW5vdC1zZWM="


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

    # Field encryption of the GSE client secrets: "kid:base64,kid2:base64" and
    # the kid new writes use (older kids keep opening old rows).
    data_keys: str = _DEV_DATA_KEY
    data_key_current: str = "dev-only"

    # The GSE (its simulator in development: tools/gse_sim, GSE_SIM_PORT).
    gse_url: str = "http://127.0.0.1:18090"
    gse_timeout_s: float = 30.0
    # The schedule: every community with GSE credentials is synchronised this
    # often (the previous months' data in, figures, advances and payments out).
    gse_sync: bool = True
    gse_sync_interval_s: float = 6 * 3600
    gse_poll_interval_s: float = 1.0
    # How many months back a scheduled sync submits and reads (the GSE
    # recalculates in June and December, so the last half year is worth a look).
    gse_months_back: int = 6
    # Retries: at most this many attempts per call, waiting base * 2**n (at most
    # backoff_max) or what Retry-After says (at most retry_after_max).
    gse_max_attempts: int = 5
    gse_backoff_base_s: float = 0.5
    gse_backoff_max_s: float = 30.0
    gse_retry_after_max_s: float = 120.0
    # The circuit breaker: open after this many failed attempts in a row, try
    # again (half-open) after the cool-down.
    gse_breaker_threshold: int = 5
    gse_breaker_cooldown_s: float = 300.0
    # A difference up to this many cents between the GSE and the platform is
    # not a mismatch (the GSE rounds per plant and per hour).
    reconciliation_tolerance_cents: int = 100

    secret_fields: tuple[str, ...] = ("database_url", "client_secret", "data_keys")
