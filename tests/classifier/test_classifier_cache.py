"""The compiled-taxonomy cache: used on a second load, keyed by the data and the code, ignored when
corrupt, and a classifier restored from it classifies exactly like a freshly compiled one."""

from __future__ import annotations

import json
import marshal
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from classifier_service import loading
from classifier_service.cache import CODE_FILES, cache_key
from classifier_service.classifier import Classifier
from classifier_service.compiler import CompiledTaxonomy
from classifier_service.loading import classifier_of, compiled_taxonomy
from classifier_service.taxonomy import PACKAGED_TAXONOMY
from shared.gazetteer import PACKAGED_GAZETTEER

TITLE = "غارات للتحالف على مواقع الحوثيين في صعدة"
REPOSITORY = Path(__file__).resolve().parents[2]
HELDOUT = REPOSITORY / "tests" / "fixtures" / "classifier" / "heldout_feeds.jsonl"
SEEDS = REPOSITORY / "seeds"


def _fresh(tmp_path: Path, taxonomy: Path = PACKAGED_TAXONOMY) -> Classifier:
    loading.forget_classifiers()
    return classifier_of(taxonomy.resolve(), PACKAGED_GAZETTEER.resolve(), cache_dir=tmp_path)


def _not_compiled(*_: object) -> CompiledTaxonomy:
    raise AssertionError("compiled again instead of read from the cache")


def test_second_load_reads_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built = _fresh(tmp_path)
    files = list(tmp_path.glob("classifier-*.bin"))
    assert len(files) == 1
    monkeypatch.setattr(loading, "compile_files", _not_compiled)
    cached = _fresh(tmp_path)
    assert cached.version == built.version
    assert cached.classify(title=TITLE, text="") == built.classify(title=TITLE, text="")


def test_restored_classifier_classifies_like_a_compiled_one(tmp_path: Path) -> None:
    paths = (PACKAGED_TAXONOMY.resolve(), PACKAGED_GAZETTEER.resolve())
    compiled = compiled_taxonomy(*paths, cache_dir=None)
    compiled_taxonomy(*paths, cache_dir=tmp_path)
    restored = compiled_taxonomy(*paths, cache_dir=tmp_path)
    assert restored is not compiled
    assert restored == compiled
    fresh, from_cache = Classifier(compiled), Classifier(restored)
    rows = [json.loads(line) for line in HELDOUT.read_text(encoding="utf-8").split("\n") if line.strip()]
    articles = [(str(row["title"]), str(row["text"])) for row in rows]
    articles += [("", seed.read_text(encoding="utf-8-sig")) for seed in sorted(SEEDS.glob("*.txt"))]
    assert len(articles) > 100
    for title, text in articles:
        assert from_cache.classify(title=title, text=text) == fresh.classify(title=title, text=text)


def test_changed_taxonomy_gets_a_new_key(tmp_path: Path) -> None:
    copy = tmp_path / "taxonomy.yaml"
    shutil.copy(PACKAGED_TAXONOMY, copy)
    before = cache_key((copy, PACKAGED_GAZETTEER))
    copy.write_text(copy.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    assert cache_key((copy, PACKAGED_GAZETTEER)) != before


def test_the_key_covers_every_module_of_the_classifier() -> None:
    loaded = {
        Path(module.__file__).resolve()
        for name, module in list(sys.modules.items())
        # The migrations build the feedback table; they play no part in classifying.
        if name.startswith("classifier_service.")
        and not name.startswith("classifier_service.migrations")
        and module.__file__
    }
    assert Path(loading.__file__).resolve() in loaded
    assert loaded <= set(CODE_FILES)
    assert REPOSITORY / "shared" / "arabic.py" in CODE_FILES


def test_corrupt_cache_is_ignored_and_rebuilt(tmp_path: Path) -> None:
    built = _fresh(tmp_path)
    (file,) = tmp_path.glob("classifier-*.bin")
    file.write_bytes(b"not marshal data")
    rebuilt = _fresh(tmp_path)
    assert rebuilt.classify(title=TITLE, text="") == built.classify(title=TITLE, text="")
    assert len(file.read_bytes()) > 1000  # written over


def test_a_cache_of_the_words_alone_without_the_split_starts_is_rebuilt(tmp_path: Path) -> None:
    """Before the split starts were cached, the vocabulary was its words and their ids alone."""
    built = _fresh(tmp_path)
    (file,) = tmp_path.glob("classifier-*.bin")
    *rest, (words, word_ids, _) = built.compiled.to_plain()
    file.write_bytes(marshal.dumps((*rest, (words, word_ids))))
    rebuilt = _fresh(tmp_path)
    assert rebuilt.compiled.vocabulary == built.compiled.vocabulary
    assert CompiledTaxonomy.from_plain(marshal.loads(file.read_bytes())) == built.compiled  # written over


def test_unwritable_cache_dir_falls_back_to_building(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    classifier = _fresh(blocker / "cache")
    assert classifier.classify(title=TITLE, text="").tags == ("strikes",)


def test_the_loader_names_the_packaged_files_their_readers_name() -> None:
    # The loader names them itself so that a classifier read from the cache imports neither reader.
    assert PACKAGED_TAXONOMY.resolve() == loading.PACKAGED_TAXONOMY
    assert PACKAGED_GAZETTEER.resolve() == loading.PACKAGED_GAZETTEER


def test_a_classifier_read_from_the_cache_imports_no_yaml_reader(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from classifier_service.loading import load_classifier\n"
        "load_classifier()\n"
        "print(sorted({'yaml', 'classifier_service.taxonomy', 'shared.gazetteer'} & set(sys.modules)))\n"
    )
    environment = {**os.environ, "RASID_CACHE_DIR": str(tmp_path)}
    for _ in range(2):  # the first run compiles and writes the cache, the second reads it
        loaded = subprocess.run(
            [sys.executable, "-c", script], env=environment, capture_output=True, text=True, check=True
        )
    assert loaded.stdout.strip() == "[]"
