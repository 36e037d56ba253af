"""Classifying a batch of ingested articles: each article as ``classify`` tags it, in order; one too
long is handed on untagged; once the soft time limit is reached the rest go on untagged too."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from classifier_service.batch import OUTLIVED_SOFT_TIME_LIMIT, classify_batch
from classifier_service.classifier import Classifier
from classifier_service.loading import forget_classifiers, load_classifier
from classifier_service.settings import classifier_settings
from shared.messages import ArticleIngested, Classification

WITHDRAWAL = "بدأت القوات الأجنبية الانسحاب من القاعدة الجوية."
STRIKES = "شنت طائرات حربية غارات جوية على مواقع قرب الحدود فجر اليوم."
TOO_LONG = WITHDRAWAL + " كلمة" * 2000
SLOW = "بطيء"  # the title whose classifying outlives the soft limit below


@pytest.fixture
def classifier(monkeypatch: pytest.MonkeyPatch) -> Iterator[Classifier]:
    """The packaged classifier with a cap of 2,000 characters, whose classifying of an article titled
    ``SLOW`` outlives the soft time limit (tests/test_task_time_limits.py shows a real worker raising
    it)."""
    classify = Classifier.classify

    def outlive_on_slow(self: Classifier, *, title: str, text: str) -> Classification:
        if title == SLOW:
            raise SoftTimeLimitExceeded()
        return classify(self, title=title, text=text)

    monkeypatch.setattr(Classifier, "classify", outlive_on_slow)
    monkeypatch.setenv("RASID_MAX_ARTICLE_CHARACTERS", "2000")
    classifier_settings.cache_clear()
    forget_classifiers()
    yield load_classifier()
    monkeypatch.undo()
    classifier_settings.cache_clear()
    forget_classifiers()


def ingested(number: int, title: str, text: str) -> ArticleIngested:
    return ArticleIngested(
        article_id=f"{number:0>32}",
        title=title,
        text=text,
        source=f"{number}.txt",
        source_kind="file",
        ingested_at=datetime(2026, 11, 20, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("articles", "tagged", "refused"),
    [
        ([("", WITHDRAWAL)], [("withdrawal",)], []),
        ([("", STRIKES), ("", WITHDRAWAL), ("", STRIKES)], [("strikes",), ("withdrawal",), ("strikes",)], []),
        (
            [("", WITHDRAWAL), ("", TOO_LONG), ("", STRIKES)],
            [("withdrawal",), (), ("strikes",)],
            ["too long"],
        ),
        ([("", WITHDRAWAL), (SLOW, STRIKES), ("", STRIKES)], [("withdrawal",), (), ()], ["soft", "soft"]),
    ],
    ids=["one", "several", "one-too-long", "soft-limit-reached"],
)
def test_a_batch_is_tagged_article_by_article(
    classifier: Classifier,
    caplog: pytest.LogCaptureFixture,
    articles: list[tuple[str, str]],
    tagged: list[tuple[str, ...]],
    refused: list[str],
) -> None:
    batch = [ingested(number, title, text) for number, (title, text) in enumerate(articles)]
    with caplog.at_level(logging.WARNING, logger="classifier_service.batch"):
        classified = classify_batch(classifier, batch)
    assert [item.article for item in classified] == batch
    assert [item.classification.tags for item in classified] == tagged
    reasons = [
        record.__dict__["reason"]
        for record in caplog.records
        if record.message == "classifier.article_refused"
    ]
    assert [_kind(reason) for reason in reasons] == refused


def _kind(reason: str) -> str:
    if reason == OUTLIVED_SOFT_TIME_LIMIT:
        return "soft"
    assert "over the cap of 2,000 (RASID_MAX_ARTICLE_CHARACTERS)" in reason
    return "too long"
