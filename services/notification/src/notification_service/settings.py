from __future__ import annotations

from cerc_shared.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class NotificationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CERC_NOTIFICATION_", extra="ignore", frozen=True)

    service_name: str = "notification"
    database_url: str = (
        "postgresql+asyncpg://notification_svc:notification_dev@127.0.0.1:15432/cercollettiva"
    )
    database_schema: str = "notification"

    # The fleet's events: the registry and user read models, and what people are told of.
    consume_events: bool = True
    # Consumer groups are named after the service (fleets are kept apart by kafka_namespace).
    consumer_group_prefix: str = ""

    # The SMTP relay: the local sink (tools/smtp_sink) in development, configuration elsewhere.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 12525
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_start_tls: bool = False
    smtp_timeout_s: float = 10.0
    mail_from: str = "CerCollettiva <notifiche@cercollettiva.invalid>"
    # The domain of the Message-IDs: a resent mail carries the same one.
    message_id_domain: str = "notifications.cercollettiva.invalid"
    # Where links in mails point (the web app).
    public_url: str = "http://127.0.0.1:18080"
    # Signs the unsubscribe links. Development key; refused in production.
    unsubscribe_secret: str = "unsubscribe-signing-key_dev"  # noqa: S105

    # The delivery worker.
    deliver: bool = True
    delivery_poll_interval_s: float = 1.0
    delivery_batch: int = 20
    # A mail being sent is leased this long; a crashed sender's lease expires
    # and the mail is sent again (with the same Message-ID).
    delivery_lease_s: float = 60.0
    # Failed sends: retried after base * 2^(attempt-1) seconds, then dead-lettered.
    delivery_max_attempts: int = 6
    delivery_backoff_base_s: float = 30.0
    # At most this many non-security mails per recipient per hour; the rest wait.
    rate_limit_per_hour: int = 20

    # Device offline: told only when the device stayed offline this long.
    device_offline_threshold_s: int = 30 * 60
    # Noisy kinds: after this many mails of the kind to a person in one Italian
    # day, the rest go into the next day's digest.
    # 0 mails every notice of a noisy kind one by one (still under the rate limit).
    digest_after: int = 3

    secret_fields: tuple[str, ...] = ("database_url", "smtp_password", "unsubscribe_secret")

    def consumer_group(self, purpose: str) -> str:
        return f"{self.consumer_group_prefix or 'notification'}.{purpose}"
