"""The classifier's fast paths give what the plain ones give.

``rasid classify --jsonl``, run as a real process writing to a file (lines not flushed one by one)
or to a pipe (flushed), prints for each article exactly the in-process classification; a model's
raw score is the plain sum of the weights of the features it knows, and the same from the features in
two parts (valued, present) as from them in one map; lines are flushed where a reader waits for them
and written as UTF-8 bytes under a text stream (as text where it has none).
"""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from classifier_service.articles import _json_value
from classifier_service.cli import _line_output, _read_as_written
from classifier_service.features import feature_parts, topic_features
from classifier_service.loading import load_classifier
from classifier_service.model import Calibration, TopicModel
from shared.messages import content_id

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "classifier"

# Invented articles that take the slower ways through reading: marks and tatweel removed, no-break
# spaces, presentation forms (not NFKC), Persian letters and digits, punctuation the split replaces.
ODD_ARTICLES = [
    {
        "id": "marks",
        "title": "القُوَّاتُ الأَجْنَبِيَّةُ تَبْدَأُ الانْسِحَابَ",
        "text": "أَعْلَنَتْ وِزَارَةُ الدِّفَاعِ أَنَّ القُوَّاتِ بَدَأَتِ الانْسِحَابَ مِنَ القَاعِدَةِ الجـــوية.",
    },
    {
        "id": "spaces",
        "title": "غارات\u00a0جوية على مواقع المسلحين",
        "text": "شنت مقاتلات التحالف\u00a0غارات جوية (على مواقع) المسلحين؛ وقتل ١٢ مسلحا، بحسب «المرصد».",
    },
    {
        "id": "forms",
        "title": "ﺗﺪﺭﻳﺒﺎﺕ عسكرية مشتركة",
        "text": "بدأت القوات تدريبات عسكرية مشتركة مع الجيش التركی في ۳ مواقع\nواستمرت أسبوعا!",
    },
]


def _articles() -> list[dict[str, Any]]:
    with (FIXTURES / "sample.jsonl").open(encoding="utf-8") as lines:
        sample = [json.loads(line) for line in lines if line.strip()]
    return [{key: row[key] for key in ("id", "title", "text")} for row in sample] + ODD_ARTICLES


def _expected_lines(articles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What each article's line holds, built the plain way: the id the pipeline gives it, and its
    classification as the classifier's API returns it."""
    classifier = load_classifier()
    return [
        {
            "id": article["id"],
            "title": article["title"],
            "article_id": content_id(article["title"], article["text"]),
            **classifier.classify(title=article["title"], text=article["text"]).model_dump(mode="json"),
        }
        for article in articles
    ]


def _command(path: Path) -> list[str]:
    return [sys.executable, "-m", "shared.cli", "classify", "--jsonl", str(path)]


@pytest.mark.parametrize("output", ["file", "pipe"])
def test_command_lines_are_the_classifications_in_process(output: str, tmp_path: Path) -> None:
    articles = _articles()
    source = tmp_path / "articles.jsonl"
    source.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in articles), "utf-8")
    if output == "file":
        written = tmp_path / "classified.jsonl"
        with written.open("w", encoding="utf-8") as out:
            subprocess.run(_command(source), stdout=out, check=True, timeout=120)
        text = written.read_text(encoding="utf-8")
    else:
        text = subprocess.run(
            _command(source), stdout=subprocess.PIPE, check=True, timeout=120, encoding="utf-8"
        ).stdout
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines == _expected_lines(articles)
    # The odd articles are tagged, so their evidence offsets (through removed marks) are compared too.
    assert all(line["evidence"] for line in lines[-3:])


def test_the_plain_classification_is_the_model_dumped_field_for_field_in_order() -> None:
    classifier = load_classifier()
    for article in _articles():
        read = classifier.read(title=article["title"], text=article["text"])
        dumped = classifier.classify_read(read).model_dump(mode="json")
        plain = classifier.classification_plain(read)
        # Compared as the JSON written, so the order of the keys counts as well as their values.
        assert json.dumps(plain, ensure_ascii=False) == json.dumps(dumped, ensure_ascii=False)
    assert any(dumped["entities"] for dumped in _expected_lines(_articles()))


@pytest.mark.parametrize(
    ("bias", "weights", "features", "expected"),
    [
        (0.5, {}, {}, 0.5),
        (0.5, {"a": 1.25}, {"a": 1.0, "b": 1.0}, 1.75),
        (-1.0, {"a": 0.5, "c": -2.0}, {"c": 0.25, "z": 3.0, "a": 2.0}, -1.0 - 0.5 + 1.0),
        (0.1, {"w:x": 0.2, "w:y": 0.3}, {"w:y": 1.0, "w:x": 1.0}, 0.1 + 0.3 + 0.2),
    ],
)
def test_a_raw_score_is_the_bias_and_the_known_features_weighed(
    bias: float, weights: dict[str, float], features: dict[str, float], expected: float
) -> None:
    topic = TopicModel(bias, weights, Calibration((0.0,), (0.5,)), no_hit=0.0)
    # Added exactly, whatever the order: the correctly rounded sum of the bias and the products.
    exact = math.fsum([bias, *(weights[name] * value for name, value in features.items() if name in weights)])
    assert topic.raw(features) == exact
    assert topic.raw(features) == pytest.approx(expected)


def test_a_topic_scores_the_same_from_its_features_in_two_parts() -> None:
    classifier = load_classifier()
    model = classifier.model.current() if classifier.model is not None else None
    assert model is not None and model.topics
    scored = 0
    for article in _articles():
        hits = classifier.hits(classifier.read(title=article["title"], text=article["text"]))
        for topic, topic_model in model.topics.items():
            values, present = feature_parts(hits[topic])
            features = topic_features(hits[topic])
            # One map of both parts, each name present at 1.0, none in both.
            assert not present & set(values)
            assert features == {**values, **dict.fromkeys(present, 1.0)}
            assert topic_model.probability_of(hits[topic]) == topic_model.probability(features)
            if features:
                assert topic_model.raw_of(values, present) == topic_model.raw(features)
                scored += 1
    assert scored > 10


@pytest.mark.parametrize(
    ("values", "present"),
    [
        ({}, set()),
        ({"a": 0.5}, {"b", "z"}),
        ({"c": 0.25, "z": 3.0}, {"a", "w:y", "w:x"}),
    ],
)
def test_a_raw_score_of_two_parts_weighs_those_present_by_their_weights(
    values: dict[str, float], present: set[str]
) -> None:
    weights = {"a": 0.5, "b": 1.25, "c": -2.0, "w:x": 0.2, "w:y": 0.3}
    topic = TopicModel(-1.0, weights, Calibration((0.0,), (0.5,)), no_hit=0.0)
    assert topic.raw_of(values, present) == topic.raw({**values, **dict.fromkeys(present, 1.0)})


def test_lines_are_flushed_where_a_reader_waits_for_them(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    with open(write_end, "w") as pipe, open(read_end) as _:
        assert _read_as_written(pipe)
    with (tmp_path / "out.jsonl").open("w") as regular:
        assert not _read_as_written(regular)
    with open(os.devnull, "w") as null:
        assert not _read_as_written(null)
    assert _read_as_written(io.StringIO())


def test_a_line_goes_as_utf8_bytes_under_a_text_stream_after_the_text_written_before() -> None:
    written = io.BytesIO()
    out = io.TextIOWrapper(written, encoding="utf-8", write_through=False)
    out.write("before\n")
    write, _ = _line_output(out)
    write('{"title":"غارات"}\n'.encode())
    out.flush()
    assert written.getvalue().decode("utf-8") == 'before\n{"title":"غارات"}\n'


def test_a_line_goes_as_text_to_a_stream_without_bytes_under_it() -> None:
    out = io.StringIO()
    write, flush = _line_output(out)
    write('{"title":"غارات"}\n'.encode())
    flush()
    assert out.getvalue() == '{"title":"غارات"}\n'


@pytest.mark.parametrize(
    "line",
    [
        '{"id": "a", "text": "نص"}\n',
        ' {"id": "a"}\n',
        '{"id": "a"}',
        '{"id": "a"} \t\r\n',
        '{"id": "a"} x\n',
        '{"id": "a"}\u00a0\n',
        '\ufeff{"id": "a"}\n',
        '{"id":\n',
        "[1]\n",
    ],
)
def test_a_json_line_is_read_as_json_loads_reads_it(line: str) -> None:
    def read(reader: Any) -> tuple[str, Any]:
        try:
            return "value", reader(line)
        except ValueError as error:
            return type(error).__name__, str(error)

    assert read(_json_value) == read(json.loads)
