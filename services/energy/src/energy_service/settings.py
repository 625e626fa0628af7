from __future__ import annotations

from cerc_shared.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class EnergySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CERC_ENERGY_", extra="ignore", frozen=True)

    service_name: str = "energy"
    database_url: str = "postgresql+asyncpg://energy_svc:energy_dev@127.0.0.1:15432/cercollettiva"
    database_schema: str = "energy"

    # InfluxDB through its v2 HTTP API. On 1.8 the token is "user:password",
    # the org is ignored ("-") and the bucket is "database/retention-policy".
    influx_url: str = "http://127.0.0.1:18086"
    # Development key (infra/influxdb.sh); refused outside development and test.
    influx_token: str = "cerc:cerc_influx_dev"  # noqa: S105
    influx_org: str = "-"
    # Empty: "<the Postgres database's name>/autogen", so two fleets on one
    # InfluxDB (dev and e2e) keep their readings apart, as they do their rows.
    influx_bucket: str = ""
    # Development and tests only: create the bucket's database at start-up. In
    # production the database and its retention are provisioned by operations.
    influx_ensure_bucket: bool = False
    influx_timeout_s: float = 30.0
    # Retention (retention.py): raw readings 13 months, quarter-hour settlement
    # quantities ten years. Set up at start in production unless told (None).
    influx_retention_setup: bool | None = None
    influx_raw_retention: str = "396d"
    influx_settlement_retention: str = "3660d"

    # Ingestion: readings arrive on measurement.v1, device status on device.v1.
    ingest: bool = True
    # Comma-separated; another topic only for benchmarks and experiments.
    ingest_topics: str = "measurement.v1,device.v1"
    ingest_max_records: int = 5000
    ingest_poll_timeout_ms: int = 100
    ingest_write_chunk_points: int = 10_000
    # A fetch waits for 256 KiB of records (~550 events of the bridge's) or
    # 100 ms, whichever comes first: at thousands of readings a second a poll
    # of a few records each cost more than the records themselves, here and in
    # Kafka; 100 ms is a tenth of the second a reading has to become readable.
    ingest_fetch_min_bytes: int = 256 * 1024
    ingest_fetch_max_wait_ms: int = 100
    # Live shared energy (live.py): the tally's plants are refreshed from the
    # read model this often; a stream sends a comment when idle this long (a
    # proxy closes a silent stream), and at most one update per interval (a
    # community whose meters report every second is not re-sent 100 times).
    live_directory_refresh_s: float = 30.0
    # Whether this replica keeps the live tally (its own reader of every
    # partition of measurement.v1, live_feed.py) and serves the stream.
    live: bool = True
    live_keepalive_s: float = 15.0
    live_min_interval_s: float = 0.25
    # Distributor uploads larger than this are loaded as background jobs (202 + progress);
    # the worker runs where ``import_jobs`` is on (every replica may: jobs are claimed).
    import_background_bytes: int = 2 * 1024 * 1024
    import_jobs: bool = True
    # A community's hourly sums kept ahead of time for its aggregates
    # (hourly/service.py): the worker's round when idle, and how many months
    # back it keeps them (older spans are aggregated directly).
    community_hours: bool = True
    community_hours_period_s: float = 5.0
    community_hours_months: int = 24
    # The read models of plants and memberships (plant.v1, membership.v1).
    consume_read_models: bool = True
    # How long a caller's reading scope (which plants and days they may read) is kept for
    # the measurements reads (scope_cache.py); 0 asks the registry on every request.
    reading_scope_cache_s: float = 2.0
    # Consumer groups name the database so two fleets on one broker (dev and
    # e2e) each see every event; set explicitly to override.
    consumer_group_prefix: str = ""

    secret_fields: tuple[str, ...] = ("database_url", "influx_token")

    @property
    def database_name(self) -> str:
        return self.database_url.rsplit("/", 1)[-1].split("?", 1)[0]

    @property
    def retention_setup(self) -> bool:
        if self.influx_retention_setup is None:
            return self.environment == "production"
        return self.influx_retention_setup

    @property
    def bucket(self) -> str:
        return self.influx_bucket or f"{self.database_name}/autogen"

    def consumer_group(self, purpose: str) -> str:
        # Fleets on one broker are kept apart by kafka_namespace (see topic()).
        return f"{self.consumer_group_prefix or 'energy'}.{purpose}"
