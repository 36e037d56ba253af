"""The model kept in the cache folder: the same model as its file gives, read back while the file is
the same, read from the file again when it changes or when the cached copy is damaged."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from classifier_service import model as model_module
from classifier_service.model import (
    PACKAGED_MODEL,
    Calibration,
    Model,
    ModelSource,
    TopicModel,
    read_model,
    write_model,
)


def _model(version: str, weight: float) -> Model:
    topic = TopicModel(
        -1.0, {"t:غارات": weight, "w:قصف": 0.5}, Calibration((-2.0, 2.0), (0.1, 0.9)), no_hit=0.01
    )
    return Model(version, 0.5, {"strikes": topic}, {"strikes": 0.9})


def _without_json(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object, **__: object) -> object:
        raise AssertionError("the model file was parsed")

    monkeypatch.setattr(model_module.json, "loads", refuse)


def test_the_packaged_model_is_the_same_read_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed = read_model(PACKAGED_MODEL, cache_dir=tmp_path)
    assert list(tmp_path.glob("classifier-*.bin")), "the model read is cached"
    _without_json(monkeypatch)

    cached = read_model(PACKAGED_MODEL, cache_dir=tmp_path)

    assert cached == parsed == read_model(PACKAGED_MODEL.resolve(), cache_dir=tmp_path)
    assert cached.to_plain() == parsed.to_plain()
    name = next(iter(cached.topics["strikes"].weights))
    assert name is sys.intern(name), "the features' names are looked up by identity"


def test_a_changed_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    write_model(_model("model-one", 1.0), path)
    assert read_model(path, cache_dir=tmp_path / "cache").version == "model-one"
    write_model(_model("model-two", 2.0), path)

    again = read_model(path, cache_dir=tmp_path / "cache")

    assert again.version == "model-two" and again.topics["strikes"].weights["t:غارات"] == 2.0


@pytest.mark.parametrize("damage", [b"", b"not marshal", b"\xe9\x00\x00\x00\x00"])
def test_a_damaged_cached_copy_is_read_from_the_file(tmp_path: Path, damage: bytes) -> None:
    path = tmp_path / "model.json"
    write_model(_model("model-one", 1.0), path)
    cache = tmp_path / "cache"
    read_model(path, cache_dir=cache)
    for cached in cache.glob("classifier-*.bin"):
        cached.write_bytes(damage)

    assert read_model(path, cache_dir=cache) == _model("model-one", 1.0)


def test_a_model_source_reads_through_its_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "model.json"
    path.write_text(json.dumps(_model("model-one", 1.0).to_plain()), encoding="utf-8")
    ModelSource(path, cache_dir=tmp_path / "cache")
    _without_json(monkeypatch)

    source = ModelSource(path, cache_dir=tmp_path / "cache")

    assert source.current() == _model("model-one", 1.0)
