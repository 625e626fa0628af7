"""Kafka producer settings shared by the outbox relay and the consumers."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

CORRELATION_HEADER = "correlation_id"
EVENT_TYPE_HEADER = "event_type"


def new_producer(bootstrap: str, client_id: str) -> AIOKafkaProducer:
    # acks=all + idempotence: a retried send is written once per partition.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        request_timeout_ms=10_000,
    )
