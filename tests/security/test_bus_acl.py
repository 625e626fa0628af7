"""The bus is locked down: one SCRAM principal per service, ACLs by topic.

The table (cerc_shared.bus_acl) is checked against the event catalogue and
the services' real consumers, then enforced by the real local broker
(infra/kafka.sh, its SASL listener): a service cannot write a topic it does
not own, cannot read one it does not consume, cannot join another's consumer
group, and a wrong password is refused.

The broker tests work in a namespace of their own (``cercollettiva_security``)
so the records they write never reach another test's consumers.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)
from cerc_shared import bus_acl
from cerc_shared.events import TOPICS
from cerc_shared.settings import ServiceSettings, kafka_client_options, namespaced
from cerc_shared.testing import ports, repo_root

NAMESPACE = "cercollettiva_security"


# ------------------------------------------------------------------ the table


def test_every_catalogue_topic_has_a_writer_and_only_its_owners_write_it() -> None:
    writers = bus_acl.writers()
    assert set(TOPICS) <= set(writers)
    assert writers["membership.v1"] == {"cer"}
    assert writers["user.v1"] == {"user"}
    # The iot API never writes readings; its bridge and the energy service do.
    assert "measurement.v1" not in bus_acl.writes("iot")
    assert "measurement.v1" in bus_acl.writes("bridge")


def test_every_service_has_a_principal() -> None:
    services = (repo_root() / "infra" / "services.txt").read_text().split()
    assert set(services) <= set(bus_acl.PRINCIPALS)


def test_what_each_service_consumes_is_granted_and_nothing_it_does_not() -> None:
    from cer_service.settings import CerSettings
    from economic_service.main import registry as economic_registry
    from energy_service.events import READ_MODEL_TOPICS
    from energy_service.settings import EnergySettings
    from iot_service.main import registry as iot_registry
    from notification_service.rules import TOPICS as NOTIFICATION_TOPICS
    from reporting_service.main import registry as reporting_registry

    energy_ingest = EnergySettings(environment="test").ingest_topics.split(",")
    consumed = {
        # The user-status cache of the kernel runs in every service.
        "user": {"user-status.v1"},
        "cer": {
            "user-status.v1",
            *(["user.v1"] if CerSettings(environment="test").consume_users else []),
        },
        "iot": {*iot_registry.topics, "user-status.v1"},
        "energy": {*READ_MODEL_TOPICS, *energy_ingest, "user-status.v1"},
        "economic": {*economic_registry.topics, "user-status.v1"},
        "notification": {*NOTIFICATION_TOPICS, "user-status.v1"},
        "reporting": {*reporting_registry.topics, "user-status.v1"},
    }
    for principal, topics in consumed.items():
        assert topics <= set(bus_acl.reads(principal)), principal
    # Read models are authorisation data: nobody but their readers sees them.
    assert "membership.v1" not in bus_acl.reads("cer")
    assert "membership.v1" not in bus_acl.reads("bridge")
    # People's e-mails and names: only the services that write to them or name them.
    assert {p for p in bus_acl.PRINCIPALS if "user.v1" in bus_acl.reads(p)} == {
        "cer",
        "notification",
    }


def test_a_development_bus_password_is_refused_in_production() -> None:
    with pytest.raises(ValueError, match="kafka_sasl_password"):
        ServiceSettings(
            environment="production",
            kafka_security_protocol="SASL_SSL",
            kafka_sasl_username="cer",
            kafka_sasl_password=bus_acl.development_password("cer"),
        )


# ---------------------------------------------------------- the real broker


def _options(principal: str, password: str | None = None) -> dict[str, Any]:
    return {
        "bootstrap_servers": f"127.0.0.1:{ports()['KAFKA_SASL_PORT']}",
        **kafka_client_options(
            "SASL_PLAINTEXT",
            username=principal,
            password=password or bus_acl.development_password(principal),
        ),
    }


@pytest.fixture(scope="module")
def granted() -> str:
    """The principals' ACLs in this module's namespace, applied by infra."""
    done = subprocess.run(
        ["bash", str(repo_root() / "infra" / "kafka.sh"), "grant", NAMESPACE],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return NAMESPACE


async def _produce(principal: str, topic: str, password: str | None = None) -> None:
    producer = AIOKafkaProducer(request_timeout_ms=10_000, **_options(principal, password))
    try:
        # Inside the try: a refused start must still close the client.
        await producer.start()
        await producer.send_and_wait(topic, b"probe", key=uuid.uuid4().bytes)
    finally:
        await producer.stop()


@pytest.fixture
async def written(granted: str) -> AsyncIterator[str]:
    """A record on the namespace's membership.v1, written by its owner."""
    topic = namespaced(granted, "membership.v1")
    await _produce("cer", topic)
    yield topic


async def _read_one(principal: str, topic: str, group: str | None) -> int:
    consumer = AIOKafkaConsumer(
        topic,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **_options(principal),
    )
    try:
        await consumer.start()
        batches = await consumer.getmany(timeout_ms=5000)
        return sum(len(records) for records in batches.values())
    finally:
        await consumer.stop()


@pytest.mark.servers
async def test_the_owner_writes_its_topic(written: str) -> None:
    # The positive half: the same path that is refused below works for the owner.
    assert written.endswith("membership.v1")


@pytest.mark.servers
async def test_a_service_cannot_write_a_topic_it_does_not_own(granted: str) -> None:
    # The attack of the issue: a forged membership.v1 (role ADMIN) from iot, a
    # forged user.v1 from cer.
    with pytest.raises(TopicAuthorizationFailedError):
        await _produce("iot", namespaced(granted, "membership.v1"))
    with pytest.raises(TopicAuthorizationFailedError):
        await _produce("cer", namespaced(granted, "user.v1"))


@pytest.mark.servers
async def test_a_consumer_reads_what_it_consumes_and_nothing_else(written: str) -> None:
    group = namespaced(NAMESPACE, f"energy.acl-probe-{uuid.uuid4().hex[:8]}")
    assert await _read_one("energy", written, group) >= 1
    with pytest.raises(TopicAuthorizationFailedError):
        # cer writes membership.v1 but never reads it back.
        await _read_one("cer", written, None)


@pytest.mark.servers
async def test_a_service_reads_account_statuses_but_not_peoples_facts(granted: str) -> None:
    # Every service refuses deactivated users (user-status.v1); the e-mails and
    # names on user.v1 are for cer and notification only.
    facts, status = namespaced(granted, "user.v1"), namespaced(granted, "user-status.v1")
    await _produce("user", facts)
    await _produce("user", status)
    assert await _read_one("economic", status, None) >= 1
    assert await _read_one("notification", facts, None) >= 1
    with pytest.raises(TopicAuthorizationFailedError):
        await _read_one("economic", facts, None)


@pytest.mark.servers
async def test_a_service_cannot_join_another_services_consumer_group(written: str) -> None:
    with pytest.raises(GroupAuthorizationFailedError):
        await _read_one("iot", written, namespaced(NAMESPACE, "energy.read-models"))


@pytest.mark.servers
async def test_a_wrong_password_is_refused(granted: str) -> None:
    # aiokafka reports the SASL failure as a failed bootstrap.
    with pytest.raises(KafkaConnectionError):
        await _produce("cer", namespaced(granted, "cer.v1"), password="cer_guess")


def test_an_authenticated_bus_without_a_principal_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="kafka_sasl_username"):
        ServiceSettings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="cer")
    options = ServiceSettings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_username="cer",
        kafka_sasl_password="x",
    ).kafka_client_options()
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["security_protocol"] == "SASL_SSL" and "ssl_context" in options
    assert ServiceSettings().kafka_client_options() == {}
