"""Alembic environment of the classifier service."""

from classifier_service.feedback import Base
from shared.migrations import run_migrations

run_migrations(Base.metadata)
