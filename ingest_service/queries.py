"""What the web API reads from the ingest service's tables: feeds and the ledger of dropped files,
a page at a time in keyset order. Functions take a session and never commit."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ingest_service.models import Feed, SeenFile


def feed_page(session: Session, *, after: int | None, limit: int) -> list[Feed]:
    """Feeds in the order they were added, after the id ``after``."""
    query = select(Feed).order_by(Feed.id).limit(limit)
    if after is not None:
        query = query.where(Feed.id > after)
    return list(session.scalars(query))


def file_page(session: Session, *, status: str | None, after: int | None, limit: int) -> list[SeenFile]:
    """Dropped files newest first (by ledger id), optionally only ``status`` (``rejected``...)."""
    query = select(SeenFile).order_by(SeenFile.id.desc()).limit(limit)
    if status:
        query = query.where(SeenFile.status == status)
    if after is not None:
        query = query.where(SeenFile.id < after)
    return list(session.scalars(query))
