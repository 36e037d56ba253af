"""Celery entry points of the classifier service: tag an ingested article, hand it on.

Retried (``TASK_OPTIONS``): the broker unavailable when the result is sent on; tagging is pure, so
a second run is harmless. An article too long to classify, or whose classification outlives the
soft time limit, is handed on untagged with a warning that names it and says why: it is stored like
any other, so nothing is lost.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_init

from classifier_service.classifier import Classifier
from classifier_service.errors import ArticleTooLargeError
from classifier_service.loading import load_classifier
from classifier_service.settings import classifier_settings
from shared.celery_app import TASK_OPTIONS, create_celery_app, send_message
from shared.messages import ArticleClassified, ArticleIngested, Classification
from shared.task_names import CLASSIFY_ARTICLE, STORE_CLASSIFIED

app = create_celery_app("classify")
log = logging.getLogger(__name__)
OUTLIVED_SOFT_TIME_LIMIT = "classifying outlived RASID_TASK_SOFT_TIME_LIMIT"


@worker_init.connect
def _build_classifier(**_: Any) -> None:
    """Build the classifier in the worker's main process, before the pool forks: no child pays for
    it on its first article, and the children share its pages."""
    load_classifier(classifier_settings().taxonomy_path)


@app.task(name=CLASSIFY_ARTICLE, **TASK_OPTIONS)
def classify_article(payload: dict[str, Any]) -> None:
    """Tag one ingested article and hand it to the alert service. Safe to run twice: it stores nothing."""
    article = ArticleIngested.from_payload(payload)
    classifier = load_classifier(classifier_settings().taxonomy_path)
    try:
        classification = classifier.classify(title=article.title, text=article.text)
    except ArticleTooLargeError as error:
        classification = _untagged(classifier, article, reason=str(error))
    except SoftTimeLimitExceeded:
        classification = _untagged(classifier, article, reason=OUTLIVED_SOFT_TIME_LIMIT)
    _log_tags(article, classification)
    message = ArticleClassified(article=article, classification=classification)
    send_message(app, STORE_CLASSIFIED, message)


def _log_tags(article: ArticleIngested, classification: Classification) -> None:
    """One line per article: ``article.tagged`` with its topics and scores (``strikes 0.93``)."""
    topics = ", ".join(f"{tag} {classification.scores.get(tag, 0.0):.2f}" for tag in classification.tags)
    extra = {"article_id": article.article_id, "topics": topics or "-"}
    log.info("article.tagged" if topics else "article.untagged", extra=extra)


def _untagged(classifier: Classifier, article: ArticleIngested, *, reason: str) -> Classification:
    """No tags for an article that was not classified, said at WARNING with its id and why."""
    log.warning("classifier.article_refused", extra={"article_id": article.article_id, "reason": reason})
    return classifier.untagged()
