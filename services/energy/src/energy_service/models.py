"""The energy service's own tables: the registry read model (plants, their
stays in communities, memberships, communities; fed from plant.v1,
membership.v1 and cer.v1), the consumer's processed events and the outbox.
Readings themselves live in the time-series store."""

from __future__ import annotations

from cerc_shared.consumer import define_processed_events
from cerc_shared.db import service_metadata
from cerc_shared.outbox import define_outbox
from cerc_shared.readmodels import RegistryReadModel
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    metadata = service_metadata()


# Plants and memberships (plant.v1, membership.v1, cer.v1): whose a plant is,
# which community it is in, who administers that community, and since when.
registry = RegistryReadModel(Base.metadata)

outbox = define_outbox(Base.metadata)
processed_events = define_processed_events(Base.metadata)
