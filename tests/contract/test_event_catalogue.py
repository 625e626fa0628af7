"""The event catalogue is the contract between services: the committed AsyncAPI
document matches it, every event has a topic and a key, and every event
survives the trip through the envelope as it travels on Kafka."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

from cerc_shared.events import CATALOGUE, TOPICS, EventEnvelope, asyncapi_document
from cerc_shared.events.base import Event
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "docs" / "asyncapi.json"


def test_committed_asyncapi_document_is_current() -> None:
    committed = json.loads(DOCUMENT.read_text())
    assert committed == json.loads(json.dumps(asyncapi_document())), (
        "docs/asyncapi.json is stale: "
        "run `uv run python -m cerc_shared.events > docs/asyncapi.json`"
    )


def test_every_event_has_a_channel_and_a_versioned_type() -> None:
    document = asyncapi_document()
    names = [e.model_fields["type"].default for e in CATALOGUE]
    assert len(names) == len(set(names)), "two events share a type"
    for event in CATALOGUE:
        name = event.model_fields["type"].default
        assert event.topic.rsplit(".", 1)[1].startswith("v")
        assert name in document["channels"][event.topic]["messages"]
        assert isinstance(event.model_fields["version"].default, int)
    assert set(document["channels"]) == set(TOPICS)


def value_of(annotation: Any) -> st.SearchStrategy[Any]:
    """Values a peer could legitimately send for a field of this type."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return st.sampled_from(args)
    if origin in (Union, UnionType):
        return st.one_of(*(value_of(a) for a in args))
    if origin is list:
        return st.lists(value_of(args[0]), max_size=3)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return st.fixed_dictionaries(
            {n: value_of(f.annotation) for n, f in annotation.model_fields.items()}
        ).map(annotation.model_validate)
    simple: dict[Any, st.SearchStrategy[Any]] = {
        type(None): st.none(),
        bool: st.booleans(),
        int: st.integers(min_value=1, max_value=10**9),
        float: st.floats(min_value=0, max_value=1e6, allow_nan=False),
        str: st.text(min_size=1, max_size=20),
        Decimal: st.decimals(min_value=0, max_value=10**6, places=3),
        date: st.dates(),
        datetime: st.datetimes(timezones=st.just(UTC)),
    }
    return simple[annotation]


@st.composite
def any_event(draw: st.DrawFn) -> Event:
    event_type: type[Event] = draw(st.sampled_from(CATALOGUE))
    data = {
        name: draw(value_of(field.annotation))
        for name, field in event_type.model_fields.items()
        if name not in ("type", "version")
    }
    return event_type.model_validate(data)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(any_event())
def test_events_round_trip_through_the_envelope(event: Event) -> None:
    envelope = EventEnvelope.wrap(event, producer="test", correlation_id="c")
    wire = envelope.model_dump_json()
    back = EventEnvelope.model_validate_json(wire)
    assert back.data == event
    assert back.topic == event.topic and back.key == event.key()
    assert json.loads(wire)["type"] == event.type


def test_reconciliation_mismatch_travels_with_negative_differences_and_named_pods() -> None:
    """The notification service reads the causes to tell a manager which POD the
    GSE lacks; a shortfall (GSE below the platform) is negative, which the
    property test above never draws."""
    from cerc_shared.events.economic import ReconciliationCause, ReconciliationMismatch

    event = ReconciliationMismatch(
        community_id=7,
        period="2025-03",
        run_id=12,
        difference_cents=-1234,
        tolerance_cents=100,
        causes=[
            ReconciliationCause(
                cause="GSE_MISSING_DATA", pod="IT001E00000001", difference_cents=-1200
            ),
            ReconciliationCause(cause="ROUNDING", pod=None, difference_cents=-34),
        ],
    )
    wire = EventEnvelope.wrap(event, producer="economic", correlation_id=None).model_dump_json()
    back = EventEnvelope.model_validate_json(wire)
    assert back.topic == "reconciliation.v1" and back.key == "7"
    assert back.data == event
    assert "reconciliation.v1" in TOPICS
