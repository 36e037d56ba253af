"""Celery entry points of the ingest service: thin doorways to ``files`` and ``feeds``.

Retried: database and broker connection failures (the work is idempotent). Not retried: a malformed
message (it will never validate) and a failing feed (recorded on the feed; the next poll retries).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.exc import OperationalError as DatabaseError

from ingest_service.feeds import active_feed_ids, make_client, poll_feed
from ingest_service.files import ingest_file
from ingest_service.ledger import confirm_stored, take_unconfirmed
from ingest_service.schemas import FeedDue, FileReady
from ingest_service.settings import ingest_settings
from shared.celery_app import create_celery_app, send_message
from shared.db import session_scope, utc_now
from shared.messages import ArticleIngested, ArticleStored
from shared.task_names import (
    CLASSIFY_ARTICLE,
    CONFIRM_STORED,
    INGEST_FILE,
    POLL_FEED,
    POLL_FEEDS,
    RESEND_UNCONFIRMED,
)

log = logging.getLogger(__name__)

app = create_celery_app("ingest")
# Most articles one resend sweep hands on again.
RESEND_BATCH = 500
RETRY_OPTIONS: dict[str, Any] = {
    "autoretry_for": (DatabaseError, BrokerError),
    "retry_backoff": True,
    "max_retries": 5,
}


def send_article(article: ArticleIngested) -> None:
    """Hand a new article to the classifier."""
    send_message(app, CLASSIFY_ARTICLE, article)


@app.task(name=INGEST_FILE, **RETRY_OPTIONS)
def ingest_file_task(payload: dict[str, Any]) -> None:
    """Ingest one dropped file. Safe to run twice: a file version is handled once."""
    ready = FileReady.from_payload(payload)
    settings = ingest_settings()
    with session_scope(settings.resolved_database_url) as session:
        ingest_file(
            session,
            ready,
            rejected_dir=settings.rejected_folder,
            max_bytes=settings.max_file_bytes,
            forward=send_article,
        )


@app.task(name=POLL_FEEDS, **RETRY_OPTIONS)
def poll_feeds_task() -> None:
    """Fan out one POLL_FEED per active feed, so one failing feed never stops the others."""
    with session_scope(ingest_settings().resolved_database_url) as session:
        feed_ids = active_feed_ids(session)
    for feed_id in feed_ids:
        send_message(app, POLL_FEED, FeedDue(feed_id=feed_id))
    log.info("feed.poll_scheduled", extra={"feeds": len(feed_ids)})


@app.task(name=POLL_FEED, **RETRY_OPTIONS)
def poll_feed_task(payload: dict[str, Any]) -> None:
    """Poll one feed and hand on its new articles. Safe to run twice: articles are de-duplicated."""
    due = FeedDue.from_payload(payload)
    settings = ingest_settings()
    with (
        make_client(timeout=settings.feed_timeout) as client,
        session_scope(settings.resolved_database_url) as session,
    ):
        poll_feed(
            session, due.feed_id, client=client, forward=send_article, max_bytes=settings.feed_max_bytes
        )


@app.task(name=CONFIRM_STORED, **RETRY_OPTIONS)
def confirm_stored_task(payload: dict[str, Any]) -> None:
    """The alert service stored an article: stop keeping it for a resend. Safe to run twice."""
    stored = ArticleStored.from_payload(payload)
    with session_scope(ingest_settings().resolved_database_url) as session:
        confirm_stored(session, stored.article_id, now=utc_now())


@app.task(name=RESEND_UNCONFIRMED, **RETRY_OPTIONS)
def resend_unconfirmed_task() -> None:
    """Hand on again the articles never confirmed as stored: their message was lost on the way."""
    settings = ingest_settings()
    with session_scope(settings.resolved_database_url) as session:
        articles = take_unconfirmed(
            session,
            now=utc_now(),
            older_than=timedelta(seconds=settings.resend_after_seconds),
            limit=RESEND_BATCH,
        )
        for article in articles:
            send_article(article)
    if articles:
        log.warning("ingest.articles_resent", extra={"article_ids": [a.article_id for a in articles]})
