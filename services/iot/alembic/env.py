"""Migrations of the iot service: its own role, its own schema, one replica at a time."""

from cerc_shared.migrations import run_migrations
from iot_service.models import Base
from iot_service.settings import IotSettings

run_migrations(Base.metadata, IotSettings())
