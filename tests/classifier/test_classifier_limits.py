"""An article over the size or token cap is refused with a readable reason, not classified for
minutes: by the classifier, by ``rasid classify`` (the others still tagged), and by the classify task,
which hands it on untagged with a warning so that it is still stored."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from click.testing import CliRunner

from classifier_service.classifier import Classifier
from classifier_service.errors import ArticleTooLargeError
from classifier_service.limits import ArticleLimits
from classifier_service.loading import forget_classifiers, load_classifier
from classifier_service.settings import classifier_settings
from ingest_service.settings import ingest_settings
from shared.cli import cli
from shared.messages import ArticleIngested, ArticlesClassified
from shared.settings import base_settings
from shared.task_names import STORE_CLASSIFIED_BATCH

WITHDRAWAL = "بدأت القوات الأجنبية الانسحاب من القاعدة الجوية."


@pytest.fixture
def limited(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The caps set low through their environment variables."""
    monkeypatch.setenv("RASID_MAX_ARTICLE_CHARACTERS", "2000")
    monkeypatch.setenv("RASID_MAX_ARTICLE_TOKENS", "300")
    classifier_settings.cache_clear()
    forget_classifiers()
    yield
    monkeypatch.undo()
    classifier_settings.cache_clear()
    forget_classifiers()


def test_the_caps_let_every_file_the_ingest_service_accepts_through() -> None:
    settings = classifier_settings()
    assert settings.max_article_characters >= ingest_settings().max_file_bytes


def test_an_article_within_the_caps_is_classified(limited: None) -> None:
    assert load_classifier().classify(title="", text=WITHDRAWAL).tags == ("withdrawal",)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("ا" * 2001, "2,001 characters, over the cap of 2,000 (RASID_MAX_ARTICLE_CHARACTERS)"),
        ("و " * 301, "301 words and sentence marks, over the cap of 300 (RASID_MAX_ARTICLE_TOKENS)"),
        (". " * 400, "400 words and sentence marks, over the cap of 300 (RASID_MAX_ARTICLE_TOKENS)"),
    ],
    ids=["characters", "words", "sentence-marks"],
)
def test_an_article_over_a_cap_is_refused_with_the_reason(limited: None, text: str, reason: str) -> None:
    with pytest.raises(ArticleTooLargeError) as raised:
        load_classifier().classify(title="", text=text)
    assert str(raised.value) == f"article too long to classify: {reason}"


def test_title_and_text_count_together() -> None:
    limits = ArticleLimits(max_characters=10, max_tokens=10)
    classifier = Classifier(load_classifier().compiled, limits=limits)
    classifier.classify(title="12345", text="67890")
    with pytest.raises(ArticleTooLargeError):
        classifier.classify(title="123456", text="67890")


def test_rasid_classify_names_a_refused_file_and_tags_the_others(limited: None, tmp_path: Path) -> None:
    small, large = tmp_path / "small.txt", tmp_path / "large.txt"
    small.write_text("عنوان\n" + WITHDRAWAL, encoding="utf-8")
    large.write_text("عنوان\n" + "كلمة " * 1000, encoding="utf-8")
    result = CliRunner().invoke(cli, ["classify", str(large), str(small)])
    assert result.exit_code == 1
    assert f"{large}: article too long to classify: 5,00" in result.stderr
    assert "characters, over the cap of 2,000 (RASID_MAX_ARTICLE_CHARACTERS)" in result.stderr
    assert "1 article(s) not classified" in result.stderr
    (line,) = result.stdout.splitlines()
    assert json.loads(line)["id"] == str(small) and json.loads(line)["tags"] == ["withdrawal"]


@pytest.fixture
def task_module(
    limited: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[tuple[ModuleType, list[tuple[str, dict[str, Any]]]]]:
    monkeypatch.setenv("RASID_BROKER_URL", "memory://")
    monkeypatch.setenv("RASID_DATA_DIR", str(tmp_path / "var"))
    base_settings.cache_clear()
    from classifier_service import tasks as module

    sent: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(module.app, "send_task", lambda name, kwargs, **_options: sent.append((name, kwargs)))
    yield module, sent
    base_settings.cache_clear()


def test_the_task_hands_a_refused_article_on_untagged_with_a_warning(
    task_module: tuple[ModuleType, list[tuple[str, dict[str, Any]]]], caplog: pytest.LogCaptureFixture
) -> None:
    module, sent = task_module
    article = ArticleIngested(
        article_id="a" * 64,
        title="انسحاب",
        text=WITHDRAWAL + " كلمة" * 2000,
        source="long.txt",
        source_kind="file",
        ingested_at=datetime.now(UTC),
    )
    with caplog.at_level(logging.WARNING, logger="classifier_service.tasks"):
        module.classify_article(article.to_payload())
    ((name, kwargs),) = sent
    assert name == STORE_CLASSIFIED_BATCH
    (handed_on,) = ArticlesClassified.from_payload(kwargs["payload"]).items
    assert handed_on.article == article
    assert handed_on.classification.tags == ()
    assert set(handed_on.classification.scores.values()) == {0.0}
    (record,) = [record for record in caplog.records if record.message == "classifier.article_refused"]
    assert record.levelno == logging.WARNING
    assert record.__dict__["article_id"] == "a" * 64
    assert "over the cap of 2,000 (RASID_MAX_ARTICLE_CHARACTERS)" in record.__dict__["reason"]


def test_the_task_hands_on_untagged_an_article_whose_classifying_outlives_the_soft_limit(
    task_module: tuple[ModuleType, list[tuple[str, dict[str, Any]]]],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the worker's soft time limit raises inside the task (tests/test_task_time_limits.py shows
    a real worker raising it), raised here where classifying runs."""
    module, sent = task_module

    def outlive(self: Classifier, *, title: str, text: str) -> None:
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(Classifier, "classify", outlive)
    article = ArticleIngested(
        article_id="b" * 64,
        title="انسحاب",
        text=WITHDRAWAL,
        source="slow.txt",
        source_kind="file",
        ingested_at=datetime.now(UTC),
    )
    with caplog.at_level(logging.WARNING, logger="classifier_service.tasks"):
        module.classify_article(article.to_payload())
    ((name, kwargs),) = sent
    assert name == STORE_CLASSIFIED_BATCH
    (handed_on,) = ArticlesClassified.from_payload(kwargs["payload"]).items
    assert handed_on.classification.tags == ()
    (record,) = [record for record in caplog.records if record.message == "classifier.article_refused"]
    assert record.__dict__["reason"] == "classifying outlived RASID_TASK_SOFT_TIME_LIMIT"
