"""The compiled-classifier cache: used on a second load, keyed by the data, ignored when corrupt."""

from __future__ import annotations

import shutil
from pathlib import Path

from classifier_service.cache import cache_key
from classifier_service.classifier import Classifier, _load
from classifier_service.gazetteer import PACKAGED_GAZETTEER
from classifier_service.taxonomy import PACKAGED_TAXONOMY

TITLE = "غارات للتحالف على مواقع الحوثيين في صعدة"


def _fresh(tmp_path: Path, taxonomy: Path = PACKAGED_TAXONOMY) -> Classifier:
    _load.cache_clear()
    return _load(taxonomy.resolve(), PACKAGED_GAZETTEER.resolve(), tmp_path)


def test_second_load_reads_the_cache(tmp_path: Path) -> None:
    built = _fresh(tmp_path)
    files = list(tmp_path.glob("classifier-*.bin"))
    assert len(files) == 1
    cached = _fresh(tmp_path)
    assert "_taxonomy_path" in vars(cached)  # made from the cache, not built
    assert cached.version == built.version
    assert cached.classify(title=TITLE, text="") == built.classify(title=TITLE, text="")
    assert cached.taxonomy.threshold_of("strikes") == built.taxonomy.threshold_of("strikes")


def test_changed_taxonomy_gets_a_new_key(tmp_path: Path) -> None:
    copy = tmp_path / "taxonomy.yaml"
    shutil.copy(PACKAGED_TAXONOMY, copy)
    before = cache_key((copy, PACKAGED_GAZETTEER))
    copy.write_text(copy.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    assert cache_key((copy, PACKAGED_GAZETTEER)) != before


def test_corrupt_cache_is_ignored_and_rebuilt(tmp_path: Path) -> None:
    built = _fresh(tmp_path)
    (file,) = tmp_path.glob("classifier-*.bin")
    file.write_bytes(b"not marshal data")
    rebuilt = _fresh(tmp_path)
    assert "_taxonomy_path" not in vars(rebuilt)
    assert rebuilt.classify(title=TITLE, text="") == built.classify(title=TITLE, text="")
    assert len(file.read_bytes()) > 1000  # written over


def test_unwritable_cache_dir_falls_back_to_building(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    classifier = _fresh(blocker / "cache")
    assert classifier.classify(title=TITLE, text="").tags == ("strikes",)
