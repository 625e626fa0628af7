"""Migrations of the energy service: its own role, its own schema, one replica at a time."""

from cerc_shared.migrations import run_migrations
from energy_service.hourly import models as _hourly_models  # noqa: F401  (their tables)
from energy_service.imports import models as _import_models  # noqa: F401  (their tables)
from energy_service.models import Base
from energy_service.settings import EnergySettings

run_migrations(Base.metadata, EnergySettings())
