"""Migrations of the economic service: its own role, its own schema, one replica at a time."""

from cerc_shared.migrations import run_migrations
from economic_service.models import Base
from economic_service.settings import EconomicSettings

run_migrations(Base.metadata, EconomicSettings())
