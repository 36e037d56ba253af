"""The ledger of articles seen: an article is handed on only if its content id is new.

Order, so that a crash never drops an article: check seen → hand on → record. A crash between the
last two means a re-run hands the article on again, which is harmless: downstream is idempotent by
``article_id``. The ledger keeps each article's message until the alert service confirms it stored
the article; one never confirmed (its message lost on the way, a worker killed holding it) is handed
on again by :func:`take_unconfirmed`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from ingest_service.models import SeenArticle
from shared.db import insert_ignore
from shared.messages import ArticleIngested

log = logging.getLogger(__name__)

Forward = Callable[[ArticleIngested], None]


def is_article_seen(session: Session, article_id: str) -> bool:
    """Whether an article with this content id was already handed on."""
    statement = select(SeenArticle.article_id).where(SeenArticle.article_id == article_id)
    return session.execute(statement).first() is not None


def record_article(session: Session, article: ArticleIngested) -> bool:
    """Remember the article and its first source; False when it was already known."""
    values = {
        "article_id": article.article_id,
        "source": article.source[:1024],
        "source_kind": article.source_kind,
        "url": article.url[:2048] if article.url else None,
        "first_seen_at": article.ingested_at,
        "payload": article.to_payload(),
        "forwarded_at": article.ingested_at,
    }
    return insert_ignore(session, SeenArticle.__table__, values, conflict_columns=["article_id"]) is not None


def forward_if_new(session: Session, article: ArticleIngested, *, forward: Forward) -> bool:
    """Hand the article on unless it was seen before; True when it was new."""
    if is_article_seen(session, article.article_id):
        log.info("ingest.article_duplicate", extra={"article_id": article.article_id})
        return False
    forward(article)
    record_article(session, article)
    log.info(
        "ingest.article_forwarded",
        extra={"article_id": article.article_id, "source_kind": article.source_kind},
    )
    return True


def confirm_stored(session: Session, article_id: str, *, now: datetime) -> bool:
    """Record that the alert service stored the article; its kept message is dropped."""
    statement = (
        update(SeenArticle)
        .where(SeenArticle.article_id == article_id, SeenArticle.confirmed_at.is_(None))
        .values(confirmed_at=now, payload=None)
    )
    return bool(cast(CursorResult[Any], session.execute(statement)).rowcount)


def take_unconfirmed(
    session: Session, *, now: datetime, older_than: timedelta, limit: int
) -> list[ArticleIngested]:
    """Articles never confirmed as stored, handed on long enough ago, marked as sent again.

    The wait doubles with each send, so a long backlog (articles slow to be stored, not lost) is
    not flooded with copies.
    """
    statement = (
        select(SeenArticle)
        .where(
            SeenArticle.confirmed_at.is_(None),
            SeenArticle.payload.is_not(None),
            SeenArticle.forwarded_at < now - older_than,
        )
        .order_by(SeenArticle.forwarded_at)
        .limit(limit)
    )
    articles = []
    for seen in session.scalars(statement):
        assert seen.forwarded_at is not None  # the query selects forwarded articles only
        if seen.forwarded_at > now - older_than * 2 ** (seen.sends - 1):
            continue
        seen.forwarded_at, seen.sends = now, seen.sends + 1
        articles.append(ArticleIngested.from_payload(seen.payload))
    return articles

