"""Migrations of the reporting service: its own role, its own schema, one replica at a time."""

from cerc_shared.migrations import run_migrations
from reporting_service.models import Base
from reporting_service.settings import ReportingSettings

run_migrations(Base.metadata, ReportingSettings())
