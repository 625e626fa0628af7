"""How the energy service reacts to plant.v1, membership.v1 and cer.v1: it keeps the
read models authorisation is decided from. Run by the shared
``IdempotentConsumer``, so each event acts once.

Readings (measurement.v1) are ingested by ``energy_service.ingest``; the only
event this service publishes is ``MeasurementsAccepted`` for readings posted
over HTTP (see ``service.accept_readings``).
"""

from __future__ import annotations

from energy_service.models import registry

PRODUCER = "energy"

# The kernel's registry read model: plants, their stays in communities, memberships.
handle_read_model_event = registry.apply
READ_MODEL_TOPICS = registry.topics
