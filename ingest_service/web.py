"""The ingest service's part of the API: feeds (add, remove, health) and the ledger of dropped files
(ingested, duplicates, rejected with their reasons). Mounted under ``/api/v1`` by :mod:`shared.web.app`.

A feed added here is polled at beat's next round (``rasid feeds add`` also asks for a poll at once).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from ingest_service.errors import FeedError, UnknownFeedError
from ingest_service.feeds import add_feed, remove_feed
from ingest_service.models import FILE_STATUSES, Feed, SeenFile
from ingest_service.paths import decoded_path, path_from_text
from ingest_service.queries import feed_page, file_page
from ingest_service.settings import IngestSettings
from shared.net import TargetPolicy
from shared.settings import load_settings
from shared.web.access import DbSession, Reader, Writer
from shared.web.pages import DEFAULT_LIMIT, Limit, Page, RowId, cut_page, id_after
from shared.web.problems import PROBLEM_RESPONSES, Problem

router = APIRouter(responses=PROBLEM_RESPONSES)


class FeedOut(BaseModel):
    """A feed and its health: when it was last polled, last read well, and its last error."""

    id: int
    url: str
    title: str | None
    active: bool
    added_at: datetime
    last_polled_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    error_count: int


class FeedIn(BaseModel):
    url: str = Field(description="The RSS or Atom feed's http(s) URL.")


class FileOut(BaseModel):
    """A dropped file and what became of it; ``reason`` says why a rejected one was refused."""

    id: int
    path: str
    size: int
    status: Literal["ingested", "duplicate", "rejected"]
    reason: str | None
    article_id: str | None
    seen_at: datetime


def _feed_out(feed: Feed) -> FeedOut:
    return FeedOut(
        id=feed.id,
        url=feed.url,
        title=feed.title,
        active=feed.active,
        added_at=feed.added_at,
        last_polled_at=feed.last_polled_at,
        last_success_at=feed.last_success_at,
        last_error=feed.last_error,
        error_count=feed.error_count,
    )


def _file_out(seen: SeenFile) -> FileOut:
    status: Literal["ingested", "duplicate", "rejected"] = (
        "rejected" if seen.status == "rejected" else "duplicate" if seen.status == "duplicate" else "ingested"
    )
    return FileOut(
        id=seen.id,
        path=decoded_path(path_from_text(seen.path)),
        size=seen.size,
        status=status,
        reason=seen.reason,
        article_id=seen.article_id,
        seen_at=seen.seen_at,
    )


@router.get("/feeds", tags=["feeds"], summary="Feeds and their health, in the order added.")
def list_feeds(
    session: DbSession, _caller: Reader, cursor: str | None = None, limit: Limit = DEFAULT_LIMIT
) -> Page[FeedOut]:
    rows = feed_page(session, after=id_after(cursor), limit=limit + 1)
    shown, next_cursor = cut_page(rows, limit=limit, key=lambda row: [row.id])
    return Page[FeedOut](items=[_feed_out(feed) for feed in shown], next_cursor=next_cursor)


@router.post("/feeds", tags=["feeds"], status_code=201, summary="Add a feed (or re-activate it).")
def create_feed(body: FeedIn, session: DbSession, _caller: Writer) -> FeedOut:
    policy = TargetPolicy.from_settings(load_settings(IngestSettings))
    try:
        return _feed_out(add_feed(session, body.url, policy=policy))
    except FeedError as error:
        raise Problem(422, str(error), kind="bad-url") from None


@router.delete("/feeds/{feed_id}", tags=["feeds"], status_code=204, summary="Remove a feed.")
def delete_feed(feed_id: RowId, session: DbSession, _caller: Writer) -> Response:
    try:
        remove_feed(session, str(feed_id))
    except UnknownFeedError as error:
        raise Problem(404, str(error), kind="not-found") from None
    return Response(status_code=204)


@router.get("/files", tags=["files"], summary="Dropped files, newest first, with rejection reasons.")
def list_files(
    session: DbSession,
    _caller: Reader,
    status: Literal[FILE_STATUSES] | None = None,  # type: ignore[valid-type]
    cursor: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[FileOut]:
    rows = file_page(session, status=status, after=id_after(cursor), limit=limit + 1)
    shown, next_cursor = cut_page(rows, limit=limit, key=lambda row: [row.id])
    return Page[FileOut](items=[_file_out(seen) for seen in shown], next_cursor=next_cursor)
