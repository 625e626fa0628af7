"""Migrations of the cer service: its own role, its own schema, one replica at a time."""

from cer_service.models import Base
from cer_service.settings import CerSettings
from cerc_shared.migrations import run_migrations

run_migrations(Base.metadata, CerSettings())
