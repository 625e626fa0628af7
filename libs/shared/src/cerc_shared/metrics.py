"""The platform's own metrics, beside the HTTP ones of :mod:`cerc_shared.health`.

The alerting rules in ``deploy/monitoring`` are written over these names;
renaming one breaks an alert (``make lint`` runs the rules' unit tests, and
``tests/contract/test_alert_metrics.py`` checks every name a rule uses is
defined somewhere in the code).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from aiokafka import AIOKafkaConsumer
from prometheus_client import Counter, Gauge

# Outbox: how old the oldest unpublished event is tells a stuck relay (Kafka
# down, a poison row) apart from a busy one; 0 while nothing is pending.
OUTBOX_OLDEST_PENDING = Gauge(
    "outbox_oldest_pending_timestamp_seconds",
    "Creation time of the oldest unpublished outbox event (0: none pending)",
    ["service"],
)
OUTBOX_PUBLISHED = Counter("outbox_published_total", "Outbox events published", ["service"])
OUTBOX_FAILURES = Counter(
    "outbox_publish_failures_total", "Outbox relay rounds that failed", ["service"]
)

# Consumers: records behind the partition's end, after each fetch.
CONSUMER_LAG = Gauge(
    "kafka_consumer_lag_records",
    "Records between a consumer group's position and the partition's end",
    ["group", "topic", "partition"],
)
DEAD_LETTERS = Counter(
    "dead_letters_total", "Messages sent to a dead-letter topic", ["topic", "consumer"]
)

# Scheduled jobs (settlement runs, exports): each run's outcome, and when one
# last succeeded. The label is "name": "job" is Prometheus's own target label.
JOB_RUNS = Counter("job_runs_total", "Runs of a scheduled job, by outcome", ["name", "outcome"])
JOB_LAST_SUCCESS = Gauge(
    "job_last_success_timestamp_seconds", "When a job last finished successfully", ["name"]
)


# The partitions each group's lag was last reported for, by this process.
_REPORTED: dict[str, set[tuple[str, str]]] = {}


async def observe_lag(consumer: AIOKafkaConsumer, group: str) -> None:
    """Set the lag of every partition assigned to ``consumer`` (no broker round trip:
    the high watermark comes with each fetch, the position is local). A partition
    a rebalance gave to another replica is no longer reported here: that replica
    reports it, and a stale figure would count twice in the alert's sum."""
    now: set[tuple[str, str]] = set()
    for tp in consumer.assignment():
        end = consumer.highwater(tp)
        if end is None:
            continue
        position = await consumer.position(tp)
        now.add((tp.topic, str(tp.partition)))
        CONSUMER_LAG.labels(group, tp.topic, str(tp.partition)).set(max(0, end - position))
    for topic, partition in _REPORTED.get(group, set()) - now:
        CONSUMER_LAG.remove(group, topic, partition)
    _REPORTED[group] = now


@contextmanager
def job_run(name: str) -> Iterator[None]:
    """Count one run of job ``name``: ``ok`` when the block finishes, ``failed`` when it raises
    (the settlement alert fires on ``settlement*`` names)."""
    try:
        yield
    except BaseException:
        JOB_RUNS.labels(name, "failed").inc()
        raise
    JOB_RUNS.labels(name, "ok").inc()
    JOB_LAST_SUCCESS.labels(name).set(time.time())
