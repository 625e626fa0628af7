"""Migrations of the notification service: its own role, its own schema, one replica at a time."""

from cerc_shared.migrations import run_migrations
from notification_service.models import Base
from notification_service.settings import NotificationSettings

run_migrations(Base.metadata, NotificationSettings())
