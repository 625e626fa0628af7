from __future__ import annotations

from cerc_shared.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class IotSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CERC_IOT_", extra="ignore", frozen=True)

    service_name: str = "iot"
    # Development keys (infra/postgres.sh, infra/mosquitto.sh).
    database_url: str = "postgresql+asyncpg://iot_svc:iot_dev@127.0.0.1:15432/cercollettiva"
    database_schema: str = "iot"

    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 11883
    # What devices are told to connect to (may differ from how we reach it).
    mqtt_public_host: str = ""
    mqtt_public_port: int = 0
    # Whether that listener is TLS (it is, but for a test broker), and the CA
    # devices must trust, sent with their credentials (PEM file; empty: a
    # public CA they already trust).
    mqtt_public_tls: bool = True
    mqtt_public_ca_file: str = ""
    # The dynamic security administrator: creates and deletes device clients.
    mqtt_admin_username: str = "cerc_dynsec_admin"
    mqtt_admin_password: str = "cerc_dynsec_dev"  # noqa: S105 - development key
    # The bridge account: reads devices' topics.
    mqtt_bridge_username: str = "cerc_bridge"
    mqtt_bridge_password: str = "cerc_bridge_dev"  # noqa: S105 - development key
    # The IoT API's command account: may publish to devices' commands topics only.
    mqtt_commands_username: str = "cerc_iot_commands"
    mqtt_commands_password: str = "cerc_iot_commands_dev"  # noqa: S105 - development key
    mqtt_timeout_s: float = 5.0

    # The bridge. Replicas share the subscription group; each keeps its own
    # stable client id so its persistent session (and what queued in it while
    # it was down) is found again on reconnect.
    bridge_client_id: str = ""
    bridge_share_group: str = "cerc-bridge"
    bridge_batch_max: int = 1000
    bridge_batch_linger_s: float = 0.05
    # Batches processed at once (see bridge.py: they still commit and are
    # acknowledged in order). Mosquitto's max_inflight_messages must leave
    # room for bridge_in_flight * bridge_batch_max unacknowledged messages.
    bridge_in_flight: int = 3
    bridge_dlq_topic: str = "iot.mqtt.dlq"
    # Liveness/readiness endpoint of the bridge process (0: none).
    bridge_health_port: int = 0
    # Readings stamped further than this in the future are refused.
    bridge_max_clock_skew_s: int = 300
    # Tasmota stamps local time without an offset: read it in this zone.
    naive_time_zone: str = "Europe/Rome"

    # The OFFLINE detector: silent for this many of its intervals.
    offline_after_intervals: int = 3
    offline_check_interval_s: float = 5.0
    # How often devices of plant stays that ended (a leave dated in the
    # future reaching its day) are looked for and revoked.
    stay_end_check_interval_s: float = 60.0
    # An unacknowledged command is EXPIRED after this long.
    command_ack_timeout_s: int = 300

    secret_fields: tuple[str, ...] = (
        "database_url",
        "mqtt_admin_password",
        "mqtt_bridge_password",
        "mqtt_commands_password",
    )
