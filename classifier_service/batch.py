"""Tagging the articles the ingest service hands over, a batch at a time, for the alert service.

Each article is classified on its own: one too long to classify, or whose classification outlives
the task's soft time limit, is handed on untagged with a warning that names it and says why, so
nothing is lost. Once the soft limit has been reached the rest of the batch is handed on untagged
too: the hard limit follows, and the batch must be sent before it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from celery.exceptions import SoftTimeLimitExceeded

from classifier_service.classifier import Classifier
from classifier_service.errors import ArticleTooLargeError
from shared.messages import ArticleClassified, ArticleIngested, Classification

log = logging.getLogger(__name__)

OUTLIVED_SOFT_TIME_LIMIT = "classifying outlived RASID_TASK_SOFT_TIME_LIMIT"


def classify_batch(classifier: Classifier, articles: Sequence[ArticleIngested]) -> list[ArticleClassified]:
    """Each article with its classification, in order."""
    classified = []
    out_of_time = False
    for article in articles:
        if out_of_time:
            classification = untagged(classifier, article, reason=OUTLIVED_SOFT_TIME_LIMIT)
        else:
            try:
                classification = classifier.classify(title=article.title, text=article.text)
            except ArticleTooLargeError as error:
                classification = untagged(classifier, article, reason=str(error))
            except SoftTimeLimitExceeded:
                out_of_time = True
                classification = untagged(classifier, article, reason=OUTLIVED_SOFT_TIME_LIMIT)
        log_tags(article, classification)
        classified.append(ArticleClassified(article=article, classification=classification))
    return classified


def log_tags(article: ArticleIngested, classification: Classification) -> None:
    """One line per article: ``article.tagged`` with its topics and scores (``strikes 0.93``)."""
    topics = ", ".join(f"{tag} {classification.scores.get(tag, 0.0):.2f}" for tag in classification.tags)
    extra = {"article_id": article.article_id, "topics": topics or "-"}
    log.info("article.tagged" if topics else "article.untagged", extra=extra)


def untagged(classifier: Classifier, article: ArticleIngested, *, reason: str) -> Classification:
    """No tags for an article that was not classified, said at WARNING with its id and why."""
    log.warning("classifier.article_refused", extra={"article_id": article.article_id, "reason": reason})
    return classifier.untagged()
