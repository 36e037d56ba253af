"""The learned re-scoring: training on a small sample written for the tests (the model file, its
version, determinism, the fallback to rules alone, the refusal of a worse model), calibration on
synthetic scores, hot reload of a new model file, and the gate on a topic's number of labels."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from classifier_service.calibration import (
    average_precision,
    expected_calibration_error,
    isotonic,
    reliability,
)
from classifier_service.classifier import Classifier
from classifier_service.features import topic_features
from classifier_service.loading import forget_classifiers, load_classifier
from classifier_service.model import Calibration, Model, ModelSource, TopicModel, read_model, write_model
from classifier_service.scoring import stopped_by
from classifier_service.settings import classifier_settings
from classifier_service.tokens import FieldWords
from classifier_service.training import MIN_LABELS, Example, trainable_topics
from shared.cli import cli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "classifier"
TOPICS = ("withdrawal", "training", "strikes")


def _sample_rows() -> list[dict[str, Any]]:
    """Every topic sentence of the sample followed by every neutral sentence: 48 articles a topic."""
    sample = yaml.safe_load((FIXTURES / "learning_sample.yaml").read_text(encoding="utf-8"))
    rows = []
    for topic, sentences in sample["topics"].items():
        for kind in ("positive", "negative"):
            for number, sentence in enumerate(sentences[kind]):
                for filler_number, filler in enumerate(sample["fillers"]):
                    labels = {name: int(name == topic and kind == "positive") for name in TOPICS}
                    row_id = f"{topic}-{kind}-{number}-{filler_number}"
                    rows.append({"id": row_id, "title": "", "text": f"{sentence} {filler}", **labels})
    return rows


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    lines = (json.dumps(row, ensure_ascii=False) for row in rows)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    return _write(tmp_path / "sample.jsonl", _sample_rows())


@pytest.fixture
def model_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``RASID_MODEL_PATH`` set to a file in the test's folder (no file there yet)."""
    path = tmp_path / "models" / "model.json"
    monkeypatch.setenv("RASID_MODEL_PATH", str(path))
    classifier_settings.cache_clear()
    forget_classifiers()
    yield path
    monkeypatch.undo()
    classifier_settings.cache_clear()
    forget_classifiers()


def _train(sample: Path, *extra: str) -> Result:
    return CliRunner().invoke(cli, ["train", "--labeled", str(sample), "--no-feedback", *extra])


def test_training_writes_a_versioned_model_that_the_classifier_names(sample: Path, model_path: Path) -> None:
    result = _train(sample)
    assert result.exit_code == 0, result.output
    assert "before, rules alone:" in result.output and "after, cross-validated" in result.output
    model = read_model(model_path)
    assert set(model.topics) == set(TOPICS)
    assert model.version.startswith("model-")
    assert model.version in result.output
    assert set(model.figures) == set(TOPICS) and all(0.0 <= f1 <= 1.0 for f1 in model.figures.values())
    forget_classifiers()  # a new process: the command's classifier looked for the file before it was written
    classification = load_classifier().classify(title="", text=_sample_rows()[0]["text"])
    assert classification.classifier_version.endswith("/" + model.version)
    assert classification.tags == ("withdrawal",)
    assert 0.5 <= classification.scores["withdrawal"] <= 1.0


def test_training_is_deterministic(sample: Path, model_path: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.json"
    assert _train(sample).exit_code == 0
    assert _train(sample, "--output", str(again)).exit_code == 0
    assert again.read_bytes() == model_path.read_bytes()


def test_training_gives_the_same_file_in_processes_of_different_hash_seeds(
    sample: Path, tmp_path: Path
) -> None:
    outputs = []
    for seed in ("1", "2"):
        output = tmp_path / f"model-{seed}.json"
        command = [sys.executable, "-m", "shared", "train", "--labeled", str(sample), "--no-feedback"]
        environment = {**os.environ, "PYTHONHASHSEED": seed, "RASID_MODEL_PATH": str(output)}
        subprocess.run([*command, "--output", str(output)], env=environment, check=True, capture_output=True)
        outputs.append(output.read_bytes())
    assert outputs[0] == outputs[1]


def test_a_topic_model_scores_features_the_same_in_any_order() -> None:
    """Features come in the order of sets of words, which follows the hash seed: the log-odds must
    not depend on it, even where adding in another order would round otherwise."""
    weights = {"big": 1e16, "small": 1.0, "minus": -1e16, "tiny": 1e-3}
    model = TopicModel(bias=0.5, weights=weights, calibration=Calibration((0.0, 1.0), (0.0, 1.0)), no_hit=0.0)
    names = list(weights)
    values = {name: 1.0 for name in names}
    scores = set()
    for seed in range(24):
        random.Random(seed).shuffle(names)
        scores.add(model.raw({name: values[name] for name in names}))
    assert scores == {1.501}


def test_without_a_model_file_the_rules_score_alone(model_path: Path) -> None:
    assert not model_path.exists()
    classifier = load_classifier()
    rules = Classifier(classifier.compiled)
    text = "شنت طائرات التحالف غارات جوية على مواقع المسلحين."
    assert classifier.classify(title="", text=text) == rules.classify(title="", text=text)
    assert "/" not in classifier.classify(title="", text=text).classifier_version


def test_a_model_worse_than_the_one_in_use_is_not_installed(
    sample: Path, model_path: Path, tmp_path: Path
) -> None:
    assert _train(sample).exit_code == 0
    in_use = read_model(model_path)
    # The model in use claims a perfect cross-validated score: the new one cannot match it.
    boasting = Model(in_use.version, in_use.threshold, in_use.topics, dict.fromkeys(TOPICS, 1.0))
    write_model(boasting, model_path)
    before = model_path.read_bytes()
    forget_classifiers()
    # Labels flipped on one article in eight: no model scores perfectly on them.
    rows = _sample_rows()
    for row in rows[::8]:
        row["strikes"] = 1 - row["strikes"]
    noisy = _write(tmp_path / "noisy.jsonl", rows)
    result = _train(noisy)
    assert result.exit_code == 1
    assert "not installed: cross-validated macro-F1" in result.output
    assert f"below 1.000 of {in_use.version} in use" in result.output
    assert model_path.read_bytes() == before
    forced = _train(noisy, "--force")
    assert forced.exit_code == 0, forced.output
    assert read_model(model_path).figures != boasting.figures


def _constant_model(version: str, probability: float) -> Model:
    topic = TopicModel(0.0, {}, Calibration((0.0,), (probability,)), no_hit=0.0)
    return Model(version, 0.5, {"strikes": topic})


def test_a_new_model_file_is_picked_up_without_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    source = ModelSource(path, interval=0.0)
    classifier = Classifier(load_classifier().compiled, model=source)
    text = "شنت طائرات التحالف غارات جوية على مواقع المسلحين."
    assert "/" not in classifier.classify(title="", text=text).classifier_version
    write_model(_constant_model("model-one", 0.25), path)
    first = classifier.classify(title="", text=text)
    assert first.classifier_version.endswith("/model-one")
    assert first.scores["strikes"] == 0.25 and first.tags == ()
    write_model(_constant_model("model-two", 0.75), path)
    second = classifier.classify(title="", text=text)
    assert second.classifier_version.endswith("/model-two")
    assert second.scores["strikes"] == 0.75 and second.tags == ("strikes",)
    path.unlink()
    assert "/" not in classifier.classify(title="", text=text).classifier_version


def test_a_model_source_looks_at_the_file_at_most_once_per_interval(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    source = ModelSource(path, interval=3600.0)
    write_model(_constant_model("model-late", 0.5), path)
    assert source.current() is None  # checked at creation; the next look is an hour away


def test_isotonic_calibration_is_increasing_and_fits_the_rates() -> None:
    generator = random.Random(1)
    raw = [generator.uniform(-4, 4) for _ in range(2000)]
    # The true probability rises with the raw score (a logistic curve): labels drawn from it.
    labels = [generator.random() < 1 / (1 + 2.718281828 ** (-score)) for score in raw]
    calibration = isotonic(raw, labels)
    assert list(calibration.x) == sorted(calibration.x)
    assert list(calibration.y) == sorted(calibration.y)
    probabilities = [calibration(score) for score in raw]
    assert expected_calibration_error(probabilities, labels) <= 0.02
    assert abs(calibration(0.0) - 0.5) <= 0.1
    assert calibration(-4.0) <= 0.1 and calibration(4.0) >= 0.9


def test_expected_calibration_error_and_the_reliability_table() -> None:
    # Ten predictions of 0.8, eight positive: calibrated; the same predictions all negative: off by 0.8.
    assert expected_calibration_error([0.8] * 10, [True] * 8 + [False] * 2) == pytest.approx(0.0)
    assert expected_calibration_error([0.8] * 10, [False] * 10) == pytest.approx(0.8)
    table = reliability([0.05, 0.15, 0.15, 1.0], [False, True, False, True])
    assert [item.count for item in table] == [1, 2, 0, 0, 0, 0, 0, 0, 0, 1]
    assert table[1].observed == 0.5 and table[1].mean_predicted == pytest.approx(0.15)


def test_average_precision_ranks_ties_together() -> None:
    assert average_precision([0.9, 0.8, 0.1], [True, True, False]) == 1.0
    assert average_precision([0.9, 0.8, 0.1], [False, True, True]) == pytest.approx((1 / 2 + 2 / 3) / 2)
    # Every score equal (the rules' 0 and 1): the precision of the whole tie at each positive.
    assert average_precision([1.0, 1.0, 1.0, 1.0], [True, False, True, False]) == 0.5


def _examples(positives: int, negatives: int) -> list[Example]:
    labels = [True] * positives + [False] * negatives
    return [
        Example(str(number), {"custom": {"rule": 1.0}}, {"custom": 1.0}, {"custom": label})
        for number, label in enumerate(labels)
    ]


@pytest.mark.parametrize(
    ("positives", "negatives", "trained"),
    [(MIN_LABELS, MIN_LABELS, True), (MIN_LABELS - 1, 100, False), (100, MIN_LABELS - 1, False)],
)
def test_a_topic_is_trained_once_it_has_enough_labels_of_each_kind(
    positives: int, negatives: int, trained: bool
) -> None:
    assert (trainable_topics(_examples(positives, negatives), ["custom"]) == ["custom"]) is trained


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, id=case["name"])
        for case in yaml.safe_load((FIXTURES / "stopped.yaml").read_text(encoding="utf-8"))
    ],
)
def test_a_stopped_occurrence_says_why_in_its_features(case: dict[str, Any]) -> None:
    rules = Classifier(load_classifier().compiled)
    hits = rules.hits([FieldWords.read("title", ""), FieldWords.read("text", case["text"])])[case["topic"]]
    reasons = {term.term: stopped_by(term, match, found) for term, found, match in hits.blocked}
    assert reasons[case["term"]] == case["reason"]
    features = topic_features(hits)
    # A context only far is a missing context too, with a feature of its own.
    feature_reason = "no_context" if case["reason"] == "far_context" else case["reason"]
    prefix = {"excluded": "be:", "topic_excluded": "bt:", "no_context": "bn:"}[feature_reason]
    assert features["blocked_" + feature_reason] == 1.0
    assert features[prefix + case["term"]] == 1.0
    assert features["b:" + case["term"]] == 1.0
    if "far_context_feature" in case:
        assert ("blocked_far_context" in features) is case["far_context_feature"]


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, id=case["name"])
        for case in yaml.safe_load((FIXTURES / "false_friends_elsewhere.yaml").read_text(encoding="utf-8"))
    ],
)
def test_a_counted_term_says_whether_its_false_friends_are_elsewhere(case: dict[str, Any]) -> None:
    rules = Classifier(load_classifier().compiled)
    hits = rules.hits([FieldWords.read("title", ""), FieldWords.read("text", case["text"])])[case["topic"]]
    assert case["term"] in {term.term for term, _, _ in hits.counted}
    features = topic_features(hits)
    assert ("fe:" + case["term"] in features) is case["elsewhere"]
    assert ("far_excluded" in features) is case["elsewhere"]
