"""Alembic migrations of the classifier service's tables (version table ``alembic_version_classify``)."""

from pathlib import Path

SCRIPT_LOCATION = str(Path(__file__).parent)
