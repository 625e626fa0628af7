from __future__ import annotations

from cerc_shared.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class ReportingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CERC_REPORTING_", extra="ignore", frozen=True)

    service_name: str = "reporting"
    database_url: str = (
        "postgresql+asyncpg://reporting_svc:reporting_dev@127.0.0.1:15432/cercollettiva"
    )
    database_schema: str = "reporting"

    # The owning services' internal APIs (never routed by the gateway).
    energy_url: str = "http://127.0.0.1:18104"
    economic_url: str = "http://127.0.0.1:18105"
    http_timeout_s: float = 60.0
    # This service's own OAuth 2.0 client at the user service (client
    # credentials, RFC 6749 §4.4), granted energy:read and economic:read: the
    # token the internal calls carry. Without a client id, service_token is
    # sent as it is (a token made by hand; empty: none, and a real peer refuses).
    token_url: str = "http://127.0.0.1:18101/api/auth/token/"  # noqa: S105 - a URL
    client_id: str = ""
    client_secret: str = ""
    service_token: str = ""

    # Generated files: a local directory, or an S3-compatible bucket when
    # s3_bucket is set (endpoint empty: the provider's default).
    storage_dir: str = ".run/reports"
    s3_bucket: str = ""
    s3_endpoint_url: str = ""
    s3_region: str = "eu-south-1"
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    s3_prefix: str = "reports/"

    # The registry read model (cer.v1, membership.v1, plant.v1).
    consume_read_models: bool = True
    # Report jobs: a worker takes queued jobs; between wake-ups it polls.
    report_jobs: bool = True
    report_poll_interval_s: float = 1.0

    secret_fields: tuple[str, ...] = (
        "database_url",
        "client_secret",
        "service_token",
        "s3_secret_access_key",
    )
