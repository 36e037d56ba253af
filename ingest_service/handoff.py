"""Handing new articles on to the classifier, after the transaction that recorded them commits.

Articles travel in batches (:class:`shared.messages.ArticlesIngested`, at most ``MAX_BATCH`` each):
a burst of files, a feed's poll, a slice of an import or a resend sweep is a few messages, and a
lone article a batch of one, sent at once. A send that fails or is lost is made again by the
ledger's resend sweep (:mod:`ingest_service.ledger`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from celery import Celery

from shared.celery_app import send_message
from shared.messages import MAX_BATCH, ArticleIngested, ArticlesIngested
from shared.task_names import CLASSIFY_ARTICLES


def hand_on(app: Celery, articles: Sequence[ArticleIngested]) -> None:
    """Send the articles to the classifier, in as few messages as the batch limit allows."""
    for batch in batches(articles):
        _send_batch(app, batch)


def batches(articles: Sequence[ArticleIngested]) -> Iterator[tuple[ArticleIngested, ...]]:
    """The articles in order, in slices of at most ``MAX_BATCH``."""
    for start in range(0, len(articles), MAX_BATCH):
        yield tuple(articles[start : start + MAX_BATCH])


def _send_batch(app: Celery, batch: tuple[ArticleIngested, ...]) -> None:
    send_message(app, CLASSIFY_ARTICLES, ArticlesIngested(articles=batch))
