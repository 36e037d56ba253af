"""What the web API reads from the ingest service's tables: feeds and the ledger of dropped files,
a page at a time in keyset order. Functions take a session and never commit."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ingest_service.models import Feed, SeenArticle, SeenFile


@dataclass(frozen=True)
class FeedHealth:
    """A feed and how many articles were first read from it (counted by the source name its
    articles carry: the feed's title, or its URL until it has one)."""

    feed: Feed
    items_seen: int


def feed_page(session: Session, *, after: int | None, limit: int) -> list[Feed]:
    """Feeds in the order they were added, after the id ``after``."""
    query = select(Feed).order_by(Feed.id).limit(limit)
    if after is not None:
        query = query.where(Feed.id > after)
    return list(session.scalars(query))


def feed_health(session: Session) -> list[FeedHealth]:
    """Every feed in the order added, with its count of articles first seen, in one query."""
    counts = (
        select(SeenArticle.source, func.count().label("seen"))
        .where(SeenArticle.source_kind == "feed")
        .group_by(SeenArticle.source)
        .subquery()
    )
    rows = session.execute(
        select(Feed, func.coalesce(counts.c.seen, 0))
        .outerjoin(counts, counts.c.source == func.coalesce(Feed.title, Feed.url))
        .order_by(Feed.id)
    )
    return [FeedHealth(feed, int(seen)) for feed, seen in rows]


def file_page(session: Session, *, status: str | None, after: int | None, limit: int) -> list[SeenFile]:
    """Dropped files newest first (by ledger id), optionally only ``status`` (``rejected``...)."""
    query = select(SeenFile).order_by(SeenFile.id.desc()).limit(limit)
    if status:
        query = query.where(SeenFile.status == status)
    if after is not None:
        query = query.where(SeenFile.id < after)
    return list(session.scalars(query))
