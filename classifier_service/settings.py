"""Settings of the classifier service, read from ``RASID_...`` environment variables."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import Field

from shared.settings import RasidSettings, load_settings


class ClassifierSettings(RasidSettings):
    """Where the taxonomy and gazetteer live; unset means the files packaged with the service."""

    taxonomy_path: Path | None = Field(default=None, description="Taxonomy YAML (RASID_TAXONOMY_PATH).")
    gazetteer_path: Path | None = Field(default=None, description="Gazetteer YAML (RASID_GAZETTEER_PATH).")
    cache_dir: Path | None = Field(
        default=None, description="Compiled-classifier cache (RASID_CACHE_DIR; default ~/.cache/rasid)."
    )


@cache
def classifier_settings() -> ClassifierSettings:
    """The classifier's settings, built once per process (tests clear the cache to override)."""
    return load_settings(ClassifierSettings)
