"""The ledger of files and articles seen: an article is handed on only if its content id is new, and a
file is done once the ledger records it (:func:`recorded_files`).

Order, so that no broker send happens inside a transaction and a crash never drops an article:
record the articles with their messages (:func:`record_new`) → commit → hand them on. The ledger keeps
each article's message until the alert service confirms it stored the article, so the send is never
the only copy: one that never happens (a crash after the commit, the broker down) or that is lost on
the way (a worker killed holding the message) is made again by the resend sweep
(:func:`take_unconfirmed`) once ``resend_after_seconds`` have passed. Sending before the commit
would hold the transaction (and SQLite's one write lock) open while the broker answers.
A second send of one article (a re-run, a resend of a slow one) is harmless: downstream is idempotent
by ``article_id``.

Files work the same way: whatever happened to a file's message (the database down through every
retry, a lost message, a killed worker), the watcher submits again every file in the folder that the
ledger has not recorded as ingested, duplicate or rejected.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from ingest_service.models import SOURCE_LENGTH, URL_LENGTH, SeenArticle, SeenFile
from shared.db import insert_ignore, insert_ignore_all, insert_ignore_many, recordset_insert, utf8_recordset
from shared.messages import ArticleIngested

log = logging.getLogger(__name__)


def record_if_new(session: Session, article: ArticleIngested) -> bool:
    """Record the article, its first source and its message, to be handed on once the transaction
    commits; False when an article with this content id was seen before. One statement: for one
    article at a time (an import's item), where :func:`record_new` would ask first."""
    row = _seen_row(article)
    return insert_ignore(session, SeenArticle.__table__, row, conflict_columns=["article_id"]) is not None


def record_new(session: Session, articles: Sequence[ArticleIngested]) -> list[ArticleIngested]:
    """Record the articles never seen before, each with its first source and its message, to be
    handed on once the transaction commits: one multi-row insert, which skips the ids recorded before
    (by an earlier batch or by another worker meanwhile) and returns the others. The articles
    recorded, in order; an id that comes twice is recorded (and returned) once."""
    unique: dict[str, ArticleIngested] = {}
    for article in articles:
        unique.setdefault(article.article_id, article)
    if not unique:
        return []
    # Not asked first which ids are known: a burst's articles are new, and the query that found
    # none of them known cost a tenth of the ingest worker's CPU.
    new_ids = _insert_new(session, [_seen_row(article) for article in unique.values()])
    recorded = [article for article in unique.values() if article.article_id in new_ids]
    log.debug("ingest.articles_recorded", extra={"new": len(recorded), "seen": len(articles) - len(recorded)})
    return recorded


def _insert_new(session: Session, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Insert the rows whose article id is not recorded yet (rows of :func:`_seen_row`); the ids of
    those inserted."""
    # The rows travel as one JSON parameter that json_to_recordset makes rows again: a short statement
    # whatever the batch, parsed once by psycopg and prepared once by PostgreSQL, where a VALUES list
    # of a batch's 1,400 parameters was parsed and planned anew by both each time. Written in UTF-8,
    # not ASCII escapes (as the JSON column's serializer wrote the payload), the document and the
    # stored payloads are a third the size: together, half the PostgreSQL CPU of ingesting a file.
    document = utf8_recordset(session, rows)
    if document is not None:
        statement = recordset_insert(SeenArticle.__table__, _SEEN_COLUMNS, ("article_id",), "article_id")
        return set(session.scalars(statement, {"rows": document}))
    inserted = insert_ignore_many(session, SeenArticle.__table__, rows, conflict_columns=["article_id"])
    return {row.article_id for row in inserted}


def record_files(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Record the outcomes of file versions (rows of ``ingest_files``' columns, each naming the same
    ones), in order; a version recorded before keeps its outcome, as does the first of two alike."""
    if not rows:
        return
    # One statement of one JSON parameter, as for the articles (:func:`_insert_new`): the insert run
    # once for each file in pipeline mode, its parameters dumped one by one, cost about 23 µs of the
    # worker's CPU and 25 µs of PostgreSQL's a file; this costs 6 and 12.
    document = utf8_recordset(session, rows)
    if document is not None:
        statement = recordset_insert(SeenFile.__table__, tuple(rows[0]), _FILE_VERSION_COLUMNS)
        session.execute(statement, {"rows": document})
        return
    insert_ignore_all(session, SeenFile.__table__, rows, conflict_columns=list(_FILE_VERSION_COLUMNS))


# The columns :func:`_seen_row` fills.
_SEEN_COLUMNS = ("article_id", "source", "source_kind", "url", "first_seen_at", "payload", "forwarded_at")
# What tells one file version from another in the ledger (its unique constraint).
_FILE_VERSION_COLUMNS = ("path", "size", "mtime_ns")


def _seen_row(article: ArticleIngested) -> dict[str, Any]:
    return {
        "article_id": article.article_id,
        "source": article.source[:SOURCE_LENGTH],
        "source_kind": article.source_kind,
        "url": article.url[:URL_LENGTH] if article.url else None,
        "first_seen_at": article.ingested_at,
        "payload": article.to_payload(),
        "forwarded_at": article.ingested_at,
    }


FileVersion = tuple[str, int, int]
"""A file version as the ledger keys it: (path text, size, mtime_ns)."""


def recorded_files(session: Session, paths: Collection[str]) -> set[FileVersion]:
    """The versions of the files at ``paths`` (path texts) that the ledger records an outcome for, in
    one query (the watcher's rescan, a slice of the folder at a time)."""
    statement = select(SeenFile.path, SeenFile.size, SeenFile.mtime_ns).where(SeenFile.path.in_(paths))
    return {(path, size, mtime_ns) for path, size, mtime_ns in session.execute(statement)}


def confirm_stored(session: Session, article_id: str, *, now: datetime) -> bool:
    """Record that the alert service stored the article; its kept message is dropped."""
    return bool(confirm_stored_many(session, [article_id], now=now))


def confirm_stored_many(session: Session, article_ids: Collection[str], *, now: datetime) -> int:
    """Record, in one UPDATE, that the alert service stored these articles; their kept messages are
    dropped. How many were waiting for it (a second confirmation changes nothing)."""
    if not article_ids:
        return 0
    statement = (
        update(SeenArticle)
        .where(SeenArticle.article_id.in_(article_ids), SeenArticle.confirmed_at.is_(None))
        .values(confirmed_at=now, payload=None)
    )
    return cast(CursorResult[Any], session.execute(statement)).rowcount


def take_unconfirmed(
    session: Session, *, now: datetime, older_than: timedelta, limit: int
) -> list[ArticleIngested]:
    """Articles never confirmed as stored, handed on long enough ago, marked as sent again; the caller
    sends them once the transaction commits (a send lost then is found by a later sweep).

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
