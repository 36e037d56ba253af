"""Alembic migrations of the ingest service's tables (version table ``alembic_version_ingest``)."""

from pathlib import Path

SCRIPT_LOCATION = str(Path(__file__).parent)
