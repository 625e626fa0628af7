"""Who may do what on the bus: one Kafka principal per service and its ACLs.

The ONE table of the bus's access. ``infra/kafka.sh`` creates the SCRAM users
and ACLs from it (``python -m cerc_shared.bus_acl NAMESPACE...`` prints them
for ``infra/kafka/Acls.java``), the fleet runs each service as its principal,
and ``tests/security/test_bus_acl.py`` checks it against the event catalogue,
the services' consumers and the real broker.

- WRITE: a service writes only the topics whose events it owns. Ownership is
  read from the catalogue (the module an event is declared in names its
  producer: ``cerc_shared.events.cer`` -> ``cer``), plus the few topics outside
  it (``EXTRA_WRITES``: the bridge's MQTT dead letters).
- READ: the topics it consumes (``READS``); every service reads
  ``user-status.v1`` (the deactivated-user cache of the kernel), and only the
  services that write to people or name them read their facts on ``user.v1``.
  A consumer may also write the dead-letter topic ``<topic>.dlq`` of what it reads.
- CREATE on the topics it reads or writes: the first client to ask for a
  topic creates it (auto-creation), whichever side it is on; creating an
  empty topic grants nothing else.
- Consumer groups: a service joins only groups named after it (PREFIXED
  ``<service>``; all kernel group names start with it).

Fleets sharing one broker keep apart under a namespace (``<ns>.<topic>``,
ServiceSettings.kafka_namespace): the ACLs are granted per namespace, the
plain names (``""``) being the deployment's.

Adding a service or a topic: one line in ``READS`` (and its events in the
catalogue, which gives it WRITE); a new principal gets its development
password from :func:`development_password`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass

from cerc_shared.events import CATALOGUE, TOPICS
from cerc_shared.kafka import DLQ_SUFFIX
from cerc_shared.settings import namespaced

STATUS_TOPIC = "user-status.v1"

# What each principal consumes (besides user-status.v1, which every service reads).
# The bridge is the iot service's second process: it only produces.
READS: dict[str, tuple[str, ...]] = {
    "user": (),
    "cer": ("user.v1",),
    "iot": ("cer.v1", "membership.v1", "plant.v1"),
    "bridge": (),
    "energy": (
        "cer.v1",
        "membership.v1",
        "plant.v1",
        "measurement.v1",
        "device.v1",
        "settlement.v1",
    ),
    "economic": ("cer.v1", "membership.v1", "plant.v1"),
    "notification": (
        "user.v1",
        *("cer.v1", "membership.v1", "plant.v1", "device.v1", "invitation.v1"),
        *("settlement.v1", "payout.v1", "reconciliation.v1"),
    ),
    # Its figures come over HTTP (energy, economic); only the registry is read.
    "reporting": ("cer.v1", "membership.v1", "plant.v1"),
}

# Writers besides the module that declares a topic's events. Measurements
# are the iot service's events, but its bridge (not its API) publishes them,
# and the energy service publishes the manual and official readings posted to
# it the same way; the bridge also dead-letters unreadable MQTT messages.
EXTRA_WRITES: dict[str, tuple[str, ...]] = {
    "bridge": ("measurement.v1", "iot.mqtt.dlq"),
    "energy": ("measurement.v1",),
}
# Catalogue topics their declaring module's service never writes itself.
NOT_WRITTEN_BY_DECLARER: frozenset[str] = frozenset({"measurement.v1"})

# The administrator (topics, users, ACLs; the tests' own producers and
# readers) is a super user of the broker.
ADMIN = "cerc_admin"
PRINCIPALS: tuple[str, ...] = tuple(READS)


def development_password(principal: str) -> str:
    """The development key of a principal (refused outside development/test)."""
    return f"{principal}_kafka_dev"


def writers() -> dict[str, frozenset[str]]:
    """topic -> the principals that write it, from the event catalogue."""
    found: dict[str, set[str]] = {}
    for event in CATALOGUE:
        if event.topic not in NOT_WRITTEN_BY_DECLARER:
            found.setdefault(event.topic, set()).add(event.__module__.rsplit(".", 1)[-1])
    for principal, topics in EXTRA_WRITES.items():
        for topic in topics:
            found.setdefault(topic, set()).add(principal)
    return {topic: frozenset(who) for topic, who in found.items()}


def writes(principal: str) -> tuple[str, ...]:
    return tuple(sorted(t for t, who in writers().items() if principal in who))


def reads(principal: str) -> tuple[str, ...]:
    return tuple(sorted({STATUS_TOPIC, *READS[principal]}))


@dataclass(frozen=True)
class Grant:
    """One Kafka ACL: ``principal`` may ``operation`` the ``resource``."""

    principal: str
    resource_type: str  # TOPIC | GROUP
    pattern: str  # LITERAL | PREFIXED
    name: str
    operation: str  # READ | WRITE | CREATE | DESCRIBE

    def line(self) -> str:
        return (
            f"allow User:{self.principal} {self.resource_type} {self.pattern} "
            f"{self.name} {self.operation}"
        )


def grants(principal: str, namespace: str = "") -> Iterator[Grant]:
    def topic(name: str, operation: str) -> Grant:
        return Grant(principal, "TOPIC", "LITERAL", namespaced(namespace, name), operation)

    for name in writes(principal):
        yield topic(name, "WRITE")
        yield topic(name, "CREATE")
    for name in reads(principal):
        yield topic(name, "READ")
        yield topic(name, "CREATE")
        yield topic(name + DLQ_SUFFIX, "WRITE")
        yield topic(name + DLQ_SUFFIX, "CREATE")
    yield Grant(principal, "GROUP", "PREFIXED", namespaced(namespace, principal), "READ")


def managed(namespace: str = "") -> Iterator[str]:
    """The resources this table decides for (``scope`` lines): every topic the
    catalogue and the extra writers name, their dead letters, and each
    principal's groups. A principal's grant on one of them that the table no
    longer gives is revoked, so narrowing a READ takes effect on the broker."""
    topics = {*TOPICS, *(t for ts in EXTRA_WRITES.values() for t in ts)}
    for name in sorted(topics | {t + DLQ_SUFFIX for t in topics}):
        yield f"scope TOPIC LITERAL {namespaced(namespace, name)}"
    for principal in PRINCIPALS:
        yield f"scope GROUP PREFIXED {namespaced(namespace, principal)}"


def acl_script(namespaces: list[str]) -> str:
    """The users and ACLs of every principal in ``namespaces``, one per line, as
    infra/kafka/Acls.java reads them."""
    lines = [f"user {p} {development_password(p)}" for p in (ADMIN, *PRINCIPALS)]
    lines += dict.fromkeys(
        g.line() for ns in dict.fromkeys(namespaces) for p in PRINCIPALS for g in grants(p, ns)
    )
    lines += dict.fromkeys(line for ns in dict.fromkeys(namespaces) for line in managed(ns))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    # python -m cerc_shared.bus_acl [NAMESPACE...]; "" (or none) is the plain names.
    sys.stdout.write(acl_script(sys.argv[1:] or [""]))
