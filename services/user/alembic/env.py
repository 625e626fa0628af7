"""Migrations of the user service: its own role, its own schema, one replica at a time."""

from cerc_shared.migrations import run_migrations
from user_service.models import Base
from user_service.settings import UserSettings

run_migrations(Base.metadata, UserSettings())
