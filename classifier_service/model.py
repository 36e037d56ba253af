"""The learned re-scoring: a small logistic model per topic over the features of its rule hits
(:mod:`classifier_service.features`), calibrated into the probability that a careful reader would tag it.

A model is a JSON file (``model.json`` packaged with the service, or ``RASID_MODEL_PATH``) written by
``rasid train``. Reading it needs no numerical library: a topic's raw score is a sum of the weights
of the features present, and its calibration an increasing step function read by bisection. Topics
the model does not know, or a missing file, keep the rules' scores. A :class:`ModelSource` looks at
the file's modification time at most once per :data:`CHECK_INTERVAL` and reloads it when it changes,
so workers pick up a newly trained model without a restart; given a cache folder, it keeps the model
read there (:mod:`~classifier_service.cache`), so a process starts without parsing the JSON again.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import math
import os
import sys
import time
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import chain, repeat
from operator import mul
from pathlib import Path
from typing import Any

from classifier_service.cache import read_cached, write_cached
from classifier_service.errors import ModelFileError
from classifier_service.features import feature_parts
from classifier_service.hits import ArticleHits, TopicHits

PACKAGED_MODEL = Path(__file__).resolve().parent / "model.json"
MODEL_FORMAT = 1
# Seconds between two looks at the model file's modification time.
CHECK_INTERVAL = 1.0
# Calibrated scores are rounded like the rules' scores.
SCORE_DIGITS = 4


@dataclass(frozen=True, slots=True)
class Calibration:
    """An increasing map from raw score to probability: linear between the points ``(x, y)``."""

    x: tuple[float, ...]
    y: tuple[float, ...]

    def __call__(self, raw: float) -> float:
        xs, ys = self.x, self.y
        index = bisect_right(xs, raw)
        if index == 0:
            return ys[0]
        if index == len(xs):
            return ys[-1]
        x0, x1, y0, y1 = xs[index - 1], xs[index], ys[index - 1], ys[index]
        return y0 + (y1 - y0) * (raw - x0) / (x1 - x0) if x1 > x0 else y1


@dataclass(frozen=True, slots=True)
class TopicModel:
    """One topic's weights and calibration, and the probability for an article the rules found
    nothing of that topic in (``no_hit``)."""

    bias: float
    weights: dict[str, float]
    calibration: Calibration
    no_hit: float

    def raw(self, features: Mapping[str, float]) -> float:
        """The logistic model's log-odds for these features."""
        # Looked up, multiplied and added in C: a feature the model does not know weighs 0.0. Added
        # exactly (fsum), so the sum does not depend on the features' order, which follows sets of
        # words and so the hash seed: the same article scores the same in every process.
        products = map(mul, map(self.weights.get, features, repeat(0.0)), features.values())
        return math.fsum(chain(products, (self.bias,)))

    def raw_of(self, values: Mapping[str, float], present: Iterable[str]) -> float:
        """:meth:`raw` of the features in their two parts (:func:`feature_parts`): those present
        weigh their weights, which a value of 1.0 would multiply to themselves, so the sum is
        :meth:`raw` of :func:`~classifier_service.features.topic_features` to the last bit."""
        weights = self.weights.get
        products = map(mul, map(weights, values, repeat(0.0)), values.values())
        return math.fsum(chain(products, map(weights, present, repeat(0.0)), (self.bias,)))

    def probability(self, features: Mapping[str, float]) -> float:
        """The calibrated probability that the topic is present."""
        if not features:
            return self.no_hit
        return self.calibration(self.raw(features))

    def probability_of(self, hits: TopicHits) -> float:
        """:meth:`probability` of the features of ``hits``, without putting them in one map."""
        if not hits.counted and not hits.blocked:
            return self.no_hit
        return self.calibration(self.raw_of(*feature_parts(hits)))


@dataclass(frozen=True, slots=True)
class Model:
    """A trained model: its version, the probability at which a topic is tagged, its topics, and the
    cross-validated F1 of each topic measured when it was trained (what a new model must match)."""

    version: str
    threshold: float
    topics: dict[str, TopicModel]
    figures: dict[str, float] = field(default_factory=dict)

    def rescored(
        self, hits: ArticleHits, rule_scores: dict[str, float], thresholds: Mapping[str, float]
    ) -> dict[str, float]:
        """Every topic's score: calibrated for the topics the model knows, the rules' for the others."""
        scores = dict(rule_scores)
        found = hits.topics
        for topic, model in self.topics.items():
            if topic in scores:
                scores[topic] = round(model.probability_of(found[topic]), SCORE_DIGITS)
        return scores

    def to_plain(self) -> dict[str, Any]:
        """The model as the JSON object of its file."""
        return {
            "format": MODEL_FORMAT,
            "version": self.version,
            "threshold": self.threshold,
            "cross_validated_f1": dict(self.figures),
            "topics": {
                topic: {
                    "bias": model.bias,
                    "no_hit": model.no_hit,
                    "calibration": {"x": list(model.calibration.x), "y": list(model.calibration.y)},
                    "weights": dict(sorted(model.weights.items())),
                }
                for topic, model in self.topics.items()
            },
        }

    @classmethod
    def from_plain(cls, plain: Any) -> Model:
        """The model of a file's JSON object; raises ``ValueError``, ``KeyError`` or ``TypeError``."""
        if plain["format"] != MODEL_FORMAT:
            raise ValueError(f"model format {plain['format']!r}, not {MODEL_FORMAT}")
        topics = {
            str(topic): TopicModel(
                bias=float(spec["bias"]),
                weights=_weights(spec["weights"]),
                calibration=_calibration(spec["calibration"]),
                no_hit=float(spec["no_hit"]),
            )
            for topic, spec in plain["topics"].items()
        }
        figures = {str(topic): float(f1) for topic, f1 in plain.get("cross_validated_f1", {}).items()}
        return cls(
            version=str(plain["version"]), threshold=float(plain["threshold"]), topics=topics, figures=figures
        )


def _weights(spec: Any) -> dict[str, float]:
    """A topic's weights by feature name, the names interned as the features' are (a look-up then
    finds the same string, not a copy); built in C, as a model has thousands of them."""
    return dict(zip(map(sys.intern, map(str, spec)), map(float, spec.values()), strict=True))


def _calibration(spec: Any) -> Calibration:
    x, y = tuple(map(float, spec["x"])), tuple(map(float, spec["y"]))
    if not x or len(x) != len(y) or any(not math.isfinite(value) for value in (*x, *y)):
        raise ValueError("calibration points missing or not finite")
    if list(x) != sorted(x) or list(y) != sorted(y):
        raise ValueError("calibration is not increasing")
    return Calibration(x, y)


def read_model(path: Path, *, cache_dir: Path | None = None) -> Model:
    """The model in ``path``; raises :class:`ModelFileError` naming the file if it is not one.

    With ``cache_dir``, the model as read is kept there under a hash of the file's bytes (and of the
    code that reads them) and read back from there while the file is the same: parsing the JSON and
    building the weights took ``rasid classify`` 12 to 14 ms of every start, reading the cached copy
    5 to 9 (in a process, on a busy machine).
    """
    try:
        data = path.read_bytes()
        key = None if cache_dir is None else _cache_key(data)
        if cache_dir is not None and key is not None:
            cached = _from_cached(read_cached(cache_dir, key))
            if cached is not None:
                return cached
        model = Model.from_plain(json.loads(data))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ModelFileError(f"{path}: not a model file: {error}") from None
    if cache_dir is not None and key is not None:
        write_cached(cache_dir, key, _to_cached(model))
    return model


def _cache_key(data: bytes) -> str:
    """The key of the model file holding ``data``: the bytes parsed (so a file replaced meanwhile is
    not cached under the other's key), this module (all the code that reads a model and builds it),
    and the Python and marshal versions. Not :func:`~classifier_service.cache.cache_key`, which hashes
    every module of the service: the taxonomy's key does that already, and each costs a start 3 ms."""
    digest = hashlib.sha256(f"model|{sys.version}|{marshal.version}|".encode())
    digest.update(Path(__file__).read_bytes())
    digest.update(data)
    return digest.hexdigest()[:32]


# A model as the cache holds it: version, threshold, each topic's (bias, no_hit, calibration x and
# y, weights), figures. Plain data, which marshal writes and reads in C; the weights' names, interned,
# are read back interned.
_Cached = tuple[
    str,
    float,
    dict[str, tuple[float, float, tuple[float, ...], tuple[float, ...], dict[str, float]]],
    dict[str, float],
]


def _to_cached(model: Model) -> _Cached:
    topics = {
        topic: (spec.bias, spec.no_hit, spec.calibration.x, spec.calibration.y, spec.weights)
        for topic, spec in model.topics.items()
    }
    return model.version, model.threshold, topics, model.figures


def _from_cached(cached: Any) -> Model | None:
    """The model of a cached copy; None for anything else (a foreign or damaged file)."""
    try:
        version, threshold, topics, figures = cached
        return Model(
            version,
            threshold,
            {
                topic: TopicModel(bias, weights, Calibration(x, y), no_hit)
                for topic, (bias, no_hit, x, y, weights) in topics.items()
            },
            figures,
        )
    except (ValueError, TypeError, AttributeError):
        return None


def write_model(model: Model, path: Path) -> None:
    """Write ``model`` to ``path`` atomically (a reader sees the old file or the new one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(model.to_plain(), ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    os.replace(temporary, path)


class ModelSource:
    """The model of a file as it is now: read again when the file changes, checked at most once
    per ``interval`` seconds (a stat call), so a newly trained model is used without a restart.
    A missing file means rules alone; an unreadable one raises :class:`ModelFileError` when first
    loaded and is otherwise ignored (the model in use is kept)."""

    def __init__(
        self, path: Path, *, interval: float = CHECK_INTERVAL, cache_dir: Path | None = None
    ) -> None:
        self.path = path
        self._interval = interval
        # Where the model read is kept (:func:`read_model`); None: read from its file each time.
        self._cache_dir = cache_dir
        self._checked = -math.inf
        self._stamp: tuple[int, int, int] | None = None
        self._model: Model | None = None
        self._load(strict=True)

    def current(self) -> Model | None:
        """The model in use (None: rules alone)."""
        now = time.monotonic()
        if now - self._checked >= self._interval:
            self._load(strict=False)
        return self._model

    def _load(self, *, strict: bool) -> None:
        self._checked = time.monotonic()
        try:
            status = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._model = None, None
            return
        stamp = (status.st_mtime_ns, status.st_size, status.st_ino)
        if stamp == self._stamp:
            return
        try:
            self._model = read_model(self.path, cache_dir=self._cache_dir)
        except ModelFileError:
            if strict:
                raise
            return  # a file being replaced by hand: the model in use is kept, tried again later
        self._stamp = stamp
