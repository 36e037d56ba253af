"""RSS and Atom feeds: the list of feeds, fetching one politely, and turning its entries into articles.

Fetching uses conditional GET (ETag / If-Modified-Since), a total time limit and a size cap enforced while
streaming. A failing feed records its own error and never stops the others; the next scheduled poll is
its retry.

A poll holds no transaction open while it downloads (:func:`poll_feed`): one transaction reads what
to fetch, the download runs, a second transaction records the outcome and the new articles in the
ledger, and the caller hands the new articles on after that commit.
"""

from __future__ import annotations

import calendar
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser
import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from ingest_service.errors import (
    FeedError,
    FeedFetchError,
    FeedParseError,
    FeedTooLargeError,
    UnknownFeedError,
)
from ingest_service.ledger import record_if_new
from ingest_service.models import Feed
from shared.db import session_scope, utc_now
from shared.documents import strip_html
from shared.messages import ArticleIngested, content_id

log = logging.getLogger(__name__)

USER_AGENT = "Rasid/0.1 (+self-hosted Arabic news monitor)"
MAX_ERROR_LENGTH = 500


@dataclass(frozen=True)
class FetchResult:
    """One conditional GET: the body (None when not modified) and the validators to send next time."""

    content: bytes | None
    etag: str | None
    last_modified: str | None
    content_type: str | None = None


@dataclass(frozen=True)
class ParsedFeed:
    """A feed's title and its entries as articles."""

    title: str | None
    articles: list[ArticleIngested]


@dataclass(frozen=True)
class FeedRequest:
    """What one poll fetches: the feed's URL and the validators of its last download."""

    feed_id: int
    url: str
    etag: str | None
    last_modified: str | None
    polled_at: datetime


@dataclass(frozen=True)
class PollOutcome:
    """What one poll of one feed brought; ``articles`` are the new ones, to hand on after the commit."""

    feed_id: int
    articles: tuple[ArticleIngested, ...] = ()
    duplicates: int = 0
    not_modified: bool = False
    error: str | None = None

    @property
    def new(self) -> int:
        """How many of the feed's entries were new articles."""
        return len(self.articles)


def add_feed(session: Session, url: str) -> Feed:
    """Add (or re-activate) the feed at ``url``."""
    url = url.strip()
    if not url.startswith(("http://", "https://")):
        raise FeedError(f"not an http(s) URL: {url!r}")
    feed = session.execute(select(Feed).where(Feed.url == url)).scalar_one_or_none()
    if feed is None:
        feed = Feed(url=url, added_at=utc_now(), error_count=0, active=True)
        session.add(feed)
    feed.active = True
    session.flush()
    return feed


def list_feeds(session: Session) -> list[Feed]:
    """Every feed, in the order they were added."""
    return list(session.execute(select(Feed).order_by(Feed.id)).scalars())


def remove_feed(session: Session, key: str) -> Feed:
    """Delete the feed whose URL or id is ``key``."""
    feed = find_feed(session, key)
    session.delete(feed)
    session.flush()
    return feed


def find_feed(session: Session, key: str) -> Feed:
    """The feed whose URL or numeric id is ``key``; :class:`UnknownFeedError` otherwise."""
    condition = Feed.id == int(key) if key.isdigit() else Feed.url == key.strip()
    feed = session.execute(select(Feed).where(condition)).scalar_one_or_none()
    if feed is None:
        raise UnknownFeedError(f"no feed with URL or id {key!r}")
    return feed


def active_feed_ids(session: Session) -> list[int]:
    """The ids of the feeds to poll."""
    return list(session.execute(select(Feed.id).where(Feed.active.is_(True)).order_by(Feed.id)).scalars())


def make_client(*, timeout: float) -> httpx.Client:
    """The HTTP client feeds are fetched with."""
    return httpx.Client(timeout=timeout, headers={"User-Agent": USER_AGENT}, follow_redirects=True)


def fetch_feed(
    client: httpx.Client, url: str, *, etag: str | None, last_modified: str | None, max_bytes: int
) -> FetchResult:
    """GET ``url`` conditionally; raise a :class:`FeedError` on failure, too large or too slow."""
    headers = {"If-None-Match": etag} if etag else {}
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        with client.stream("GET", url, headers=headers) as response:
            return _read_response(response, max_bytes=max_bytes, deadline=_deadline(client))
    except httpx.TimeoutException as error:
        raise FeedFetchError(f"timed out: {type(error).__name__}") from error
    except httpx.HTTPError as error:
        raise FeedFetchError(f"network error: {type(error).__name__}: {error}") from error


def parse_feed(
    content: bytes, *, content_type: str | None = None, fallback_title: str = "feed"
) -> ParsedFeed:
    """Parse feed bytes (never a URL) into its title and articles."""
    headers = {"content-type": content_type} if content_type else {}
    parsed = feedparser.parse(content, response_headers=headers)
    if not parsed.entries and not parsed.feed.get("title"):
        problem = parsed.get("bozo_exception")
        raise FeedParseError(f"not an RSS or Atom feed ({problem or 'no entries and no title'})")
    title = strip_html(parsed.feed.get("title", "")) or None
    now = utc_now()
    articles = [
        entry_to_article(entry, source=title or fallback_title, ingested_at=now) for entry in parsed.entries
    ]
    return ParsedFeed(title=title, articles=[article for article in articles if article is not None])


def entry_to_article(entry: Any, *, source: str, ingested_at: datetime) -> ArticleIngested | None:
    """The article one feed entry announces; None when it has neither title nor text."""
    title = strip_html(entry.get("title", ""))
    text = _entry_text(entry)
    if not title and not text:
        return None
    return ArticleIngested(
        article_id=content_id(title, text),
        title=title,
        text=text,
        source=source,
        source_kind="feed",
        url=entry.get("link") or None,
        published_at=_entry_date(entry),
        ingested_at=ingested_at,
    )


def poll_feed(database_url: str, feed_id: int, *, client: httpx.Client, max_bytes: int) -> PollOutcome:
    """Poll one feed, in two transactions around the download; a failure is recorded on the feed,
    not raised. The new articles are in the outcome, recorded in the ledger, for the caller to hand on."""
    with session_scope(database_url) as session:
        request = feed_request(session, feed_id, polled_at=utc_now())
    if request is None:
        return PollOutcome(feed_id=feed_id, error="feed removed or inactive")
    fetched: FetchResult | FeedError
    try:
        fetched = fetch_feed(
            client, request.url, etag=request.etag, last_modified=request.last_modified, max_bytes=max_bytes
        )
    except FeedError as error:
        fetched = error
    with session_scope(database_url) as session:
        return record_poll(session, request, fetched=fetched)


def feed_request(session: Session, feed_id: int, *, polled_at: datetime) -> FeedRequest | None:
    """What to fetch for the feed; None when it was removed or paused."""
    feed = session.get(Feed, feed_id)
    if feed is None or not feed.active:
        return None
    return FeedRequest(
        feed_id=feed.id, url=feed.url, etag=feed.etag, last_modified=feed.last_modified, polled_at=polled_at
    )


def record_poll(session: Session, request: FeedRequest, *, fetched: FetchResult | FeedError) -> PollOutcome:
    """Record on the feed how its download went, and its new articles in the ledger."""
    feed = session.get(Feed, request.feed_id)
    if feed is None:
        return PollOutcome(feed_id=request.feed_id, error="feed removed while it was polled")
    feed.last_polled_at = request.polled_at
    if isinstance(fetched, FeedError):
        return _record_failure(feed, fetched)
    try:
        outcome = _record_articles(session, feed, fetched=fetched)
    except FeedError as error:  # the body is not a feed
        return _record_failure(feed, error)
    feed.etag = fetched.etag or feed.etag
    feed.last_modified = fetched.last_modified or feed.last_modified
    feed.last_success_at, feed.last_error, feed.error_count = request.polled_at, None, 0
    log.info(
        "feed.polled",
        extra={"feed_id": feed.id, "new": outcome.new, "duplicates": outcome.duplicates},
    )
    return outcome


def _record_articles(session: Session, feed: Feed, *, fetched: FetchResult) -> PollOutcome:
    if fetched.content is None:
        return PollOutcome(feed_id=feed.id, not_modified=True)
    parsed = parse_feed(
        fetched.content, content_type=fetched.content_type, fallback_title=feed.title or feed.url
    )
    feed.title = parsed.title or feed.title
    new = tuple(article for article in parsed.articles if record_if_new(session, article))
    return PollOutcome(feed_id=feed.id, articles=new, duplicates=len(parsed.articles) - len(new))


def _record_failure(feed: Feed, error: FeedError) -> PollOutcome:
    message = str(error)[:MAX_ERROR_LENGTH]
    feed.last_error, feed.error_count = message, (feed.error_count or 0) + 1
    log.warning("feed.poll_failed", extra={"feed_id": feed.id, "error": message})
    return PollOutcome(feed_id=feed.id, error=message)


def _deadline(client: httpx.Client) -> float:
    # httpx's timeouts bound each read; a server dripping bytes needs a bound on the whole download.
    total = client.timeout.read or client.timeout.connect or 15.0
    return time.monotonic() + total


def _read_response(response: httpx.Response, *, max_bytes: int, deadline: float) -> FetchResult:
    etag, last_modified = response.headers.get("etag"), response.headers.get("last-modified")
    if response.status_code == httpx.codes.NOT_MODIFIED:
        return FetchResult(content=None, etag=etag, last_modified=last_modified)
    if response.status_code >= 400:
        raise FeedFetchError(f"HTTP {response.status_code} {response.reason_phrase}")
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FeedTooLargeError(f"response of {declared} bytes is over the {max_bytes}-byte limit")
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FeedTooLargeError(f"response is over the {max_bytes}-byte limit")
        if time.monotonic() > deadline:
            raise FeedFetchError("timed out: the download took too long")
        chunks.append(chunk)
    content_type = response.headers.get("content-type")
    return FetchResult(
        content=b"".join(chunks), etag=etag, last_modified=last_modified, content_type=content_type
    )


def _entry_text(entry: Any) -> str:
    contents = entry.get("content") or []
    for item in contents:
        text = strip_html(item.get("value", ""))
        if text:
            return text
    return strip_html(entry.get("summary") or entry.get("description") or "")


def _entry_date(entry: Any) -> datetime | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if parsed is None:
        return None
    return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
