"""Loading the classifier: once per process and data files, from the on-disk cache when it is current.

A classifier is compiled from its taxonomy and gazetteer files only when the cache
(:mod:`classifier_service.cache`) has no current copy; the compiled taxonomy is then written there.
:func:`load_classifier` is where the classifier's settings are read; everything below it takes paths.
The settings are read only when something is configured (:func:`shared.environment.configured`):
otherwise every setting is its default, and pydantic-settings is not imported to say so.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from classifier_service.cache import cache_key, default_cache_dir, read_cached, write_cached
from classifier_service.classifier import Classifier
from classifier_service.compiler import CompiledTaxonomy
from classifier_service.limits import ArticleLimits
from classifier_service.model import PACKAGED_MODEL, ModelSource
from shared.environment import configured

if TYPE_CHECKING:
    from classifier_service.settings import ClassifierSettings
    from classifier_service.taxonomy import Taxonomy

# The packaged data files (``classifier_service.taxonomy.PACKAGED_TAXONOMY`` and
# ``shared.gazetteer.PACKAGED_GAZETTEER``), named here so that a classifier read from the cache
# imports neither reader (their validating models, the YAML parser): less for ``rasid classify`` to
# start.
PACKAGED_TAXONOMY = Path(__file__).resolve().with_name("taxonomy.yaml")
PACKAGED_GAZETTEER = Path(__file__).resolve().parent.parent / "shared" / "gazetteer.yaml"
# The frequent words resolved when compiling (:mod:`~classifier_service.vocabulary`), part of the
# cache's key.
PACKAGED_VOCABULARY = Path(__file__).resolve().with_name("vocabulary.tsv.gz")


def load_classifier(taxonomy_path: Path | None = None, *, gazetteer_path: Path | None = None) -> Classifier:
    """The classifier of a taxonomy file, built once per path.

    Without a path: ``RASID_TAXONOMY_PATH`` if set, else the packaged ``taxonomy.yaml`` (and the
    same for the gazetteer). The compiled taxonomy is cached in ``RASID_CACHE_DIR`` (default
    ``~/.cache/rasid``). Longer articles than ``RASID_MAX_ARTICLE_CHARACTERS`` and
    ``RASID_MAX_ARTICLE_TOKENS`` are refused.
    """
    settings = configured_settings()
    cache_dir = None
    limits = ArticleLimits()
    if settings is not None:
        taxonomy_path = taxonomy_path or settings.taxonomy_path
        gazetteer_path = gazetteer_path or settings.gazetteer_path
        cache_dir = settings.cache_dir
        limits = ArticleLimits(settings.max_article_characters, settings.max_article_tokens)
    return classifier_of(
        (taxonomy_path or PACKAGED_TAXONOMY).resolve(),
        (gazetteer_path or PACKAGED_GAZETTEER).resolve(),
        cache_dir=cache_dir or default_cache_dir(),
        limits=limits,
        model_path=model_path(),
    )


def model_path() -> Path:
    """The model file in use: ``RASID_MODEL_PATH`` if set, else the packaged one."""
    settings = configured_settings()
    configured_path = settings.model_path if settings is not None else None
    return (configured_path or PACKAGED_MODEL).resolve()


def configured_settings() -> ClassifierSettings | None:
    """The classifier's settings, or None when nothing is configured: every setting is then its
    default (no path set, the limits of :class:`ArticleLimits`)."""
    if not configured():
        return None
    from classifier_service.settings import classifier_settings

    return classifier_settings()


@cache
def classifier_of(
    taxonomy_path: Path,
    gazetteer_path: Path,
    *,
    cache_dir: Path | None,
    limits: ArticleLimits | None = None,
    model_path: Path | None = None,
) -> Classifier:
    """The classifier of these data files, made once per process (no cache on disk when
    ``cache_dir`` is None; any article classified when ``limits`` is None; rules alone when
    ``model_path`` is None or names no file)."""
    compiled = compiled_taxonomy(taxonomy_path, gazetteer_path, cache_dir=cache_dir)
    model = ModelSource(model_path, cache_dir=cache_dir) if model_path is not None else None
    return Classifier(compiled, limits=limits, model=model)


def forget_classifiers() -> None:
    """Drop the classifiers made so far, so the next load reads the files again (benchmarks, tests)."""
    classifier_of.cache_clear()


def compiled_taxonomy(
    taxonomy_path: Path, gazetteer_path: Path, *, cache_dir: Path | None
) -> CompiledTaxonomy:
    """The compiled taxonomy from the cache if it holds a current one, else compiled and cached."""
    key = cache_key((taxonomy_path, gazetteer_path, PACKAGED_VOCABULARY))
    if cache_dir is not None:
        compiled = _read_compiled(cache_dir, key)
        if compiled is not None:
            return compiled
    compiled = compile_files(taxonomy_path, gazetteer_path)
    if cache_dir is not None:
        write_cached(cache_dir, key, compiled.to_plain())
    return compiled


def compile_files(taxonomy_path: Path, gazetteer_path: Path) -> CompiledTaxonomy:
    """Read, validate and compile the taxonomy and gazetteer files."""
    from classifier_service.compiler import compile_taxonomy
    from classifier_service.taxonomy import load_taxonomy
    from classifier_service.vocabulary import read_vocabulary
    from shared.gazetteer import load_gazetteer

    taxonomy = load_taxonomy(taxonomy_path)
    gazetteer = load_gazetteer(gazetteer_path)
    version = classifier_version(taxonomy, files=(taxonomy_path, gazetteer_path))
    vocabulary = read_vocabulary(PACKAGED_VOCABULARY)
    return compile_taxonomy(taxonomy, gazetteer, version=version, vocabulary=vocabulary)


def classifier_version(taxonomy: Taxonomy, *, files: tuple[Path, ...]) -> str:
    """``<taxonomy version>+<hash of the data files>``: changes whenever a data file changes."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.read_bytes())
    return f"{taxonomy.version}+{digest.hexdigest()[:10]}"


def _read_compiled(cache_dir: Path, key: str) -> CompiledTaxonomy | None:
    plain = read_cached(cache_dir, key)
    if plain is None:
        return None
    try:
        return CompiledTaxonomy.from_plain(plain)
    except (ValueError, TypeError):
        return None  # a corrupt or foreign cache file: compiled again, and written over
