"""Alembic environment of the alert service."""

from alert_service.models import Base
from shared.migrations import run_migrations

run_migrations(Base.metadata)
