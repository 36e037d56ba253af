"""Settings of the classifier service, read from ``RASID_...`` environment variables."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import Field

from shared.settings import RasidSettings, load_settings

# A file the ingest service accepts (``RASID_MAX_FILE_BYTES``, 5 MiB by default) decodes to at most
# this many characters, one byte or more each in every encoding it reads: so every article ingested
# from a file fits, and classifying the largest takes seconds (``benchmarks/classifier_worst_case.py``).
DEFAULT_MAX_ARTICLE_CHARACTERS = 5 * 1024 * 1024
# Real Arabic prose runs five to six characters a token, so this holds any real text of the size
# above; only floods of one-letter words or bare punctuation are refused.
DEFAULT_MAX_ARTICLE_TOKENS = 1_000_000


class ClassifierSettings(RasidSettings):
    """Where the taxonomy and gazetteer live (unset means the files packaged with the service), and
    the longest article the classifier takes. Longer articles are refused with the reason, not
    classified for minutes: the caps keep every task well inside its time limit."""

    taxonomy_path: Path | None = Field(default=None, description="Taxonomy YAML (RASID_TAXONOMY_PATH).")
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
