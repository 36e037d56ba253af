"""The tables the ingest service owns: files seen, articles seen, feeds polled.

Timestamps are :class:`shared.db.UTCDateTime`: aware UTC in Python on PostgreSQL and SQLite.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UTCDateTime, make_metadata

FILE_STATUSES = ("ingested", "duplicate", "rejected")
# Column sizes that feeds must respect before they write (a feed's title, validators and links are
# whatever its server sends).
URL_LENGTH = 2048
TITLE_LENGTH = 1024
SOURCE_LENGTH = 1024
ETAG_LENGTH = 1024
LAST_MODIFIED_LENGTH = 128


class Base(DeclarativeBase):
    """Declarative base of the ingest service's tables."""

    metadata = make_metadata()


class SeenFile(Base):
    """One version of one dropped file, identified by (path, size, mtime_ns), and what became of it.

    ``path`` is written by :func:`ingest_service.paths.path_text` (a name that is not UTF-8 is kept as
    its bytes); ``sha256`` is None for a file rejected before it was read (a link, a FIFO, an
    unreadable or oversized file).
    """

    __tablename__ = "ingest_files"
    __table_args__ = (
        UniqueConstraint("path", "size", "mtime_ns"),
        CheckConstraint("status IN ('ingested', 'duplicate', 'rejected')", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String(1024))
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    article_id: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SeenArticle(Base):
    """An article handed on, under its natural key ``content_id(title, text)``, with its first source."""

    __tablename__ = "ingest_articles"

    article_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(SOURCE_LENGTH))
    source_kind: Mapped[str] = mapped_column(String(16))
    url: Mapped[str | None] = mapped_column(String(URL_LENGTH))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Until the alert service confirms it stored the article, the message is kept to be sent again.
    # Stored out of line uncompressed on PostgreSQL (migration 0005): kept for seconds, not worth compressing.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    forwarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    sends: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Feed(Base):
    """An RSS or Atom feed to poll, with what its last polls brought."""

    __tablename__ = "ingest_feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(URL_LENGTH), unique=True)
    title: Mapped[str | None] = mapped_column(String(TITLE_LENGTH))
    etag: Mapped[str | None] = mapped_column(String(ETAG_LENGTH))
    last_modified: Mapped[str | None] = mapped_column(String(LAST_MODIFIED_LENGTH))
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ImportedItem(Base):
    """One article-sized item of a ``rasid import`` (a file of a folder, a member of an archive, a line
    of a JSON lines file) and what became of it, so a second import of the same input skips it.

    ``key`` names the item within its input (``<input path>!<member>``); ``size`` and ``mtime_ns``
    are the input's, so an input changed since is read again (its articles still de-duplicated).
    """

    __tablename__ = "ingest_imports"
    __table_args__ = (
        UniqueConstraint("key", "size", "mtime_ns"),
        CheckConstraint("status IN ('ingested', 'duplicate', 'rejected')", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(1024))
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    article_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)
