"""Alembic environment of the web part of ``shared``."""

from shared.migrations import run_migrations
from shared.web.tokens import Base

run_migrations(Base.metadata)
