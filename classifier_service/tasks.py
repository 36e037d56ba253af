"""Celery entry points of the classifier service: tag ingested articles, hand them on in one message.

Retried (``TASK_OPTIONS``): the broker unavailable when the result is sent on; tagging is pure, so
a second run is harmless. An article too long to classify, or whose classification outlives the
soft time limit, is handed on untagged (:mod:`classifier_service.batch`): it is stored like any
other, so nothing is lost.

``classifier.classify_articles`` takes a batch (:class:`ArticlesIngested`);
``classifier.classify_article`` takes one article, as messages queued by earlier versions do, and
hands it on as a batch of one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from celery.signals import worker_init

from classifier_service.batch import classify_batch
from classifier_service.loading import load_classifier
from classifier_service.settings import classifier_settings
from shared.celery_app import TASK_OPTIONS, create_celery_app, send_message
from shared.messages import ArticleIngested, ArticlesClassified, ArticlesIngested
from shared.task_names import CLASSIFY_ARTICLE, CLASSIFY_ARTICLES, STORE_CLASSIFIED_BATCH

app = create_celery_app("classify")


@worker_init.connect
def _build_classifier(**_: Any) -> None:
    """Build the classifier in the worker's main process, before the pool forks: no child pays for
    it on its first article, and the children share its pages."""
    load_classifier(classifier_settings().taxonomy_path)


@app.task(name=CLASSIFY_ARTICLES, **TASK_OPTIONS)
def classify_articles(payload: dict[str, Any]) -> None:
    """Tag a batch of ingested articles and hand them to the alert service in one message. Safe to
    run twice: it stores nothing."""
    _classify_and_hand_on(ArticlesIngested.from_payload(payload).articles)


@app.task(name=CLASSIFY_ARTICLE, **TASK_OPTIONS)
def classify_article(payload: dict[str, Any]) -> None:
    """Tag one ingested article and hand it to the alert service, as a batch of one."""
    _classify_and_hand_on([ArticleIngested.from_payload(payload)])


def _classify_and_hand_on(articles: Sequence[ArticleIngested]) -> None:
    classified = classify_batch(load_classifier(classifier_settings().taxonomy_path), articles)
    send_message(app, STORE_CLASSIFIED_BATCH, ArticlesClassified(items=tuple(classified)))
