"""Settings of the classifier service, read from ``RASID_...`` environment variables."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import Field

# The caps' defaults are declared beside the limits they set, which a classifier loaded while nothing
# is configured takes without reading these settings.
from classifier_service.limits import DEFAULT_MAX_ARTICLE_CHARACTERS, DEFAULT_MAX_ARTICLE_TOKENS
from shared.settings import DataFilePath, RasidSettings, load_settings


class ClassifierSettings(RasidSettings):
    """Where the taxonomy and gazetteer live (unset means the files packaged with the service), and
    the longest article the classifier takes. Longer articles are refused with the reason, not
    classified for minutes: the caps keep every task well inside its time limit."""

    taxonomy_path: DataFilePath = Field(default=None, description="Taxonomy YAML (RASID_TAXONOMY_PATH).")
    model_path: Path | None = Field(
        default=None,
        description="Learned re-scoring model (RASID_MODEL_PATH; default the packaged model.json). "
        "No file there: rules alone.",
    )
    cache_dir: Path | None = Field(
        default=None, description="Compiled-classifier cache (RASID_CACHE_DIR; default ~/.cache/rasid)."
    )
    max_article_characters: int = Field(
        default=DEFAULT_MAX_ARTICLE_CHARACTERS,
        gt=0,
        description="Longer articles (title and text) are refused.",
    )
    max_article_tokens: int = Field(
        default=DEFAULT_MAX_ARTICLE_TOKENS,
        gt=0,
        description="Articles of more tokens (words, sentence marks) are refused.",
    )


@cache
def classifier_settings() -> ClassifierSettings:
    """The classifier's settings, built once per process (tests clear the cache to override)."""
    return load_settings(ClassifierSettings)
