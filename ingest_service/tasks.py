"""Celery entry points of the ingest service: thin doorways to ``files``, ``feeds`` and ``ledger``.

Each task is named after its task name (``ingest.poll_feed`` is :func:`poll_feed`) and calls its logic
through the module (``feeds.poll_feed``). New articles are recorded in the ledger in a transaction
and handed on in batches after it commits (:mod:`ingest_service.handoff`); a send lost then is made
again by the resend sweep. The single-file and single-confirmation tasks stay for messages queued
before batches existed: each is its batch twin with a batch of one.

Retried (``TASK_OPTIONS``): database and broker unavailability (the work is idempotent). Not retried:
a malformed message (it will never validate) and a failing feed (recorded on the feed; the next poll
retries).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from celery.signals import worker_init

from ingest_service import feeds, files, ledger
from ingest_service.handoff import hand_on
from ingest_service.schemas import FeedDue, FileReady, FilesReady
from ingest_service.settings import ingest_settings
from shared.celery_app import TASK_OPTIONS, create_celery_app, import_database_driver, send_message
from shared.db import session_scope, utc_now
from shared.messages import ArticleIngested, ArticlesStored, ArticleStored
from shared.net import TargetPolicy
from shared.task_names import (
    CONFIRM_STORED,
    CONFIRM_STORED_BATCH,
    INGEST_FILE,
    INGEST_FILES,
    POLL_FEED,
    POLL_FEEDS,
    RESEND_UNCONFIRMED,
)

log = logging.getLogger(__name__)

app = create_celery_app("ingest")
# Most articles one resend sweep hands on again.
RESEND_BATCH = 500


@worker_init.connect
def _import_database_driver(**_: Any) -> None:
    """Import the database driver in the worker's main process, before the pool forks: each pool
    child imported it on its first task."""
    import_database_driver(ingest_settings().resolved_database_url)


def _hand_on(articles: Sequence[ArticleIngested]) -> None:
    """Send new articles to the classifier; called after the transaction that recorded them commits."""
    hand_on(app, articles)


@app.task(name=INGEST_FILES, **TASK_OPTIONS)
def ingest_files(payload: dict[str, Any]) -> None:
    """Ingest a batch of dropped files. Safe to run twice: a file version is handled once."""
    _ingest(FilesReady.from_payload(payload).files)


@app.task(name=INGEST_FILE, **TASK_OPTIONS)
def ingest_file(payload: dict[str, Any]) -> None:
    """Ingest one dropped file (a message queued before batches): a batch of one."""
    _ingest([FileReady.from_payload(payload)])


def _ingest(batch: Sequence[FileReady]) -> None:
    settings = ingest_settings()
    with session_scope(settings.resolved_database_url) as session:
        outcomes = files.ingest_files(
            session,
            batch,
            watch_dir=settings.watch_dir,
            rejected_dir=settings.rejected_folder,
            max_bytes=settings.max_file_bytes,
        )
    _hand_on([outcome.article for outcome in outcomes if outcome.article])


@app.task(name=POLL_FEEDS, **TASK_OPTIONS)
def poll_feeds() -> None:
    """Fan out one POLL_FEED per active feed, so one failing feed never stops the others."""
    with session_scope(ingest_settings().resolved_database_url) as session:
        feed_ids = feeds.active_feed_ids(session)
    for feed_id in feed_ids:
        send_message(app, POLL_FEED, FeedDue(feed_id=feed_id))
    log.debug("feed.poll_scheduled", extra={"feeds": len(feed_ids)})


@app.task(name=POLL_FEED, **TASK_OPTIONS)
def poll_feed(payload: dict[str, Any]) -> None:
    """Poll one feed and hand on its new articles. Safe to run twice: articles are de-duplicated."""
    due = FeedDue.from_payload(payload)
    settings = ingest_settings()
    policy = TargetPolicy.from_settings(settings)
    with feeds.make_client(timeout=settings.feed_timeout, policy=policy) as client:
        outcome = feeds.poll_feed(
            settings.resolved_database_url, due.feed_id, client=client, max_bytes=settings.feed_max_bytes
        )
    _hand_on(outcome.articles)


@app.task(name=CONFIRM_STORED_BATCH, **TASK_OPTIONS)
def confirm_stored_batch(payload: dict[str, Any]) -> None:
    """The alert service stored these articles: stop keeping them for a resend. Safe to run twice."""
    _confirm(ArticlesStored.from_payload(payload).article_ids)


@app.task(name=CONFIRM_STORED, **TASK_OPTIONS)
def confirm_stored(payload: dict[str, Any]) -> None:
    """The alert service stored one article (a message queued before batches): a batch of one."""
    _confirm([ArticleStored.from_payload(payload).article_id])


def _confirm(article_ids: Sequence[str]) -> None:
    with session_scope(ingest_settings().resolved_database_url) as session:
        ledger.confirm_stored_many(session, article_ids, now=utc_now())


@app.task(name=RESEND_UNCONFIRMED, **TASK_OPTIONS)
def resend_unconfirmed() -> None:
    """Hand on again the articles never confirmed as stored: their message was lost on the way."""
    settings = ingest_settings()
    with session_scope(settings.resolved_database_url) as session:
        articles = ledger.take_unconfirmed(
            session,
            now=utc_now(),
            older_than=timedelta(seconds=settings.resend_after_seconds),
            limit=RESEND_BATCH,
        )
    _hand_on(articles)
    if articles:
        log.warning("ingest.articles_resent", extra={"article_ids": [a.article_id for a in articles]})
