"""Alembic migrations of the web part's tables (version table ``alembic_version_web``)."""

from pathlib import Path

SCRIPT_LOCATION = str(Path(__file__).parent)
