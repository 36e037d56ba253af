"""The ledger of articles seen: an article is handed on only if its content id is new.

Order, so that a crash never drops an article: check seen → hand on → record. A crash between the
last two means a re-run hands the article on again, which is harmless: downstream is idempotent by
``article_id``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import select
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
