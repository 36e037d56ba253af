"""Alembic migrations of the alert service's tables (version table ``alembic_version_alert``)."""

from pathlib import Path

SCRIPT_LOCATION = str(Path(__file__).parent)
