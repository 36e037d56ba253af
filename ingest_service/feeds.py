"""RSS and Atom feeds: the list of feeds, fetching one politely, and turning its entries into articles.

Fetching uses conditional GET (ETag / If-Modified-Since), one deadline for the whole download (redirects
and a server that drips its headers included) and a size cap enforced while streaming. Feed URLs are
user input: the client is :func:`shared.net.guarded_client`, which refuses internal addresses on every
connection, and redirects are followed here, a bounded number, each hop a checked connection.

An entry becomes an article only if it passes the checks a dropped file passes (:func:`check_document`);
one that fails is skipped with its reason and counted. A feed that declares XML entities is refused
(a few kilobytes of them expand to gigabytes). A failing feed records its own error and never stops the
others; the next scheduled poll is its retry.

A poll holds no transaction open while it downloads (:func:`poll_feed`): one transaction reads what
to fetch, the download runs, a second transaction records the outcome and the new articles in the
ledger, and the caller hands the new articles on after that commit.
"""

from __future__ import annotations

import calendar
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser
import httpx
from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from ingest_service.errors import (
    FeedError,
    FeedFetchError,
    FeedParseError,
    FeedTooLargeError,
    UnknownFeedError,
)
from ingest_service.ledger import record_new
from ingest_service.models import (
    ETAG_LENGTH,
    LAST_MODIFIED_LENGTH,
    SOURCE_LENGTH,
    TITLE_LENGTH,
    URL_LENGTH,
    Feed,
)
from shared.db import session_scope, utc_now
from shared.documents import Document, check_document, strip_html
from shared.errors import UnreadableDocument
from shared.messages import ArticleIngested, content_id
from shared.net import (
    PUBLIC_ONLY,
    InvalidTargetError,
    TargetPolicy,
    TargetRefused,
    check_target,
    deadline,
    guarded_client,
    parse_target,
)

log = logging.getLogger(__name__)

USER_AGENT = "Rasid/0.1 (+self-hosted Arabic news monitor)"
MAX_ERROR_LENGTH = 500
MAX_REDIRECTS = 5
# feedparser keeps a DTD's simple internal entities and expands them itself, in its lenient parser too,
# so a small feed can expand to gigabytes. News feeds declare none; one that does is refused, whatever
# encoding it is written in.
_ENTITY_DECLARATIONS = tuple(
    keyword.encode(codec)
    for keyword in ("<!ENTITY", "<!entity")
    for codec in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "cp037")
)
# Line breaks, tabs and every other C0/C1 control: a title is one line of plain text.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]+")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class FetchResult:
    """One conditional GET: the body (None when not modified) and the validators to send next time."""

    content: bytes | None
    etag: str | None
    last_modified: str | None
    content_type: str | None = None


@dataclass(frozen=True)
class ParsedFeed:
    """A feed's title, its entries as articles, and why each entry that is not an article was skipped."""

    title: str | None
    articles: list[ArticleIngested]
    skipped: tuple[str, ...] = ()


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
    skipped: int = 0
    not_modified: bool = False
    error: str | None = None

    @property
    def new(self) -> int:
        """How many of the feed's entries were new articles."""
        return len(self.articles)


def add_feed(session: Session, url: str, *, policy: TargetPolicy = PUBLIC_ONLY) -> Feed:
    """Add (or re-activate) the feed at ``url``, normalised; :class:`FeedError` when it is not an
    http(s) URL or points at an address ``policy`` refuses."""
    try:
        url = check_target(url, policy=policy)
    except (InvalidTargetError, TargetRefused) as error:
        raise FeedError(str(error)) from error
    if len(url) > URL_LENGTH:
        raise FeedError(f"the URL is longer than {URL_LENGTH} characters")
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
    condition = Feed.id == int(key) if key.isdigit() else Feed.url.in_({key.strip(), _normalised(key)})
    feed = session.execute(select(Feed).where(condition)).scalar_one_or_none()
    if feed is None:
        raise UnknownFeedError(f"no feed with URL or id {key!r}")
    return feed


def _normalised(url: str) -> str:
    try:
        return str(parse_target(url))
    except InvalidTargetError:
        return url.strip()


def active_feed_ids(session: Session) -> list[int]:
    """The ids of the feeds to poll."""
    return list(session.execute(select(Feed.id).where(Feed.active.is_(True)).order_by(Feed.id)).scalars())


def make_client(*, timeout: float, policy: TargetPolicy) -> httpx.Client:
    """The HTTP client feeds are fetched with: guarded by ``policy``; ``timeout`` is the budget of one
    whole download."""
    return guarded_client(policy, timeout=timeout, headers={"User-Agent": USER_AGENT})


def fetch_feed(
    client: httpx.Client, url: str, *, etag: str | None, last_modified: str | None, max_bytes: int
) -> FetchResult:
    """GET ``url`` conditionally, following redirects; raise a :class:`FeedError` on failure, too
    large, too slow (the client's timeout bounds the whole download), or a refused address."""
    headers = {"If-None-Match": etag} if etag else {}
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    budget = _budget(client)
    try:
        with deadline(budget):
            return _follow(client, client.build_request("GET", url, headers=headers), max_bytes=max_bytes)
    except TargetRefused as error:
        raise FeedFetchError(f"refused: {error}") from error
    except InvalidTargetError as error:
        raise FeedFetchError(f"redirected to something that is not a feed URL: {error}") from error
    except httpx.TimeoutException as error:
        limit = f"the download took over {budget:g} s"
        raise FeedFetchError(f"timed out: {limit} ({type(error).__name__})") from error
    except httpx.HTTPError as error:
        raise FeedFetchError(f"network error: {type(error).__name__}: {error}") from error


def _follow(client: httpx.Client, request: httpx.Request, *, max_bytes: int) -> FetchResult:
    """Send ``request`` and the redirects it leads to, at most :data:`MAX_REDIRECTS`; every hop is a
    new request through the guarded client, so its address is checked."""
    for _hop in range(MAX_REDIRECTS + 1):
        response = client.send(request, stream=True)
        try:
            if response.next_request is None:
                return _read_response(response, max_bytes=max_bytes)
            request = response.next_request
        finally:
            response.close()
        parse_target(str(request.url))
    raise FeedFetchError(f"more than {MAX_REDIRECTS} redirects")


def parse_feed(
    content: bytes, *, content_type: str | None = None, fallback_title: str = "feed"
) -> ParsedFeed:
    """Parse feed bytes (never a URL) into its title and the entries that pass the document checks."""
    if any(declaration in content for declaration in _ENTITY_DECLARATIONS):
        raise FeedParseError("the feed declares XML entities (<!ENTITY>), which Rasid does not expand")
    headers = {"content-type": content_type} if content_type else {}
    try:
        parsed = feedparser.parse(content, response_headers=headers)
    except Exception as error:  # hostile bytes can break the parser in any way; the feed records it
        raise FeedParseError(f"the feed could not be parsed ({type(error).__name__})") from error
    if not parsed.entries and not parsed.feed.get("title"):
        problem = parsed.get("bozo_exception")
        raise FeedParseError(f"not an RSS or Atom feed ({problem or 'no entries and no title'})")
    title = _cap(one_line(strip_html(parsed.feed.get("title", ""))), TITLE_LENGTH) or None
    source = _cap(title or fallback_title, SOURCE_LENGTH)
    encoding = parsed.get("encoding") or "utf-8"
    now = utc_now()
    articles, skipped = [], []
    for entry in parsed.entries:
        try:
            articles.append(entry_to_article(entry, source=source, ingested_at=now, encoding=encoding))
        except UnreadableDocument as rejected:
            skipped.append(rejected.reason)
            log.info("feed.entry_skipped", extra={"reason": rejected.reason, "link": _link(entry)})
    return ParsedFeed(title=title, articles=articles, skipped=tuple(skipped))


def entry_to_article(
    entry: Any, *, source: str, ingested_at: datetime, encoding: str = "utf-8"
) -> ArticleIngested:
    """The article one feed entry announces; :class:`UnreadableDocument` with the reason when the entry does
    not pass the checks a dropped file must pass."""
    title = one_line(strip_html(entry.get("title", "")))
    # PostgreSQL text cannot hold NUL; any other control character is left for the checks to count.
    text = _entry_text(entry).replace("\x00", "")
    check_document(Document(title=title, text=text, encoding=encoding))
    return ArticleIngested(
        article_id=content_id(title, text),
        title=title,
        text=text,
        source=source,
        source_kind="feed",
        url=_link(entry),
        published_at=_entry_date(entry),
        ingested_at=ingested_at,
    )


def one_line(text: str) -> str:
    """``text`` as one line of plain text: line breaks and control characters (terminal escapes
    included) become spaces, runs of spaces one."""
    return _SPACES.sub(" ", _CONTROLS.sub(" ", text)).strip()


def _cap(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


def _link(entry: Any) -> str | None:
    """The entry's link if it is an http(s) URL short enough to keep."""
    link = entry.get("link")
    if not isinstance(link, str) or len(link) > URL_LENGTH:
        return None
    try:
        return str(parse_target(link))
    except InvalidTargetError:
        return None


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
    try:
        with session_scope(database_url) as session:
            return record_poll(session, request, fetched=fetched)
    except (DataError, IntegrityError) as error:
        # Something in the feed did not fit the tables: say so on the feed instead of failing unseen.
        failure = FeedError(f"the poll could not be recorded: {type(error.orig).__name__}: {error.orig}")
        with session_scope(database_url) as session:
            return record_poll(session, request, fetched=failure)


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
    feed.etag = _validator(fetched.etag, ETAG_LENGTH, feed.etag)
    feed.last_modified = _validator(fetched.last_modified, LAST_MODIFIED_LENGTH, feed.last_modified)
    feed.last_success_at, feed.last_error, feed.error_count = request.polled_at, None, 0
    # A poll that brought nothing new is housekeeping.
    log.log(
        logging.INFO if outcome.new else logging.DEBUG,
        "feed.polled",
        extra={
            "feed_id": feed.id,
            "new": outcome.new,
            "duplicates": outcome.duplicates,
            "skipped": outcome.skipped,
        },
    )
    return outcome


def _validator(value: str | None, length: int, previous: str | None) -> str | None:
    """The validator to send next time: a new one if it fits its column (a cut one would never match,
    so one that does not fit is dropped), else the previous one."""
    if value is None:
        return previous
    return value if len(value) <= length else None


def _record_articles(session: Session, feed: Feed, *, fetched: FetchResult) -> PollOutcome:
    if fetched.content is None:
        return PollOutcome(feed_id=feed.id, not_modified=True)
    parsed = parse_feed(
        fetched.content, content_type=fetched.content_type, fallback_title=feed.title or feed.url
    )
    feed.title = parsed.title or feed.title
    # Each article names its feed, so a watch rule can ask for the feed by id.
    articles = [article.model_copy(update={"feed_id": feed.id}) for article in parsed.articles]
    new = tuple(record_new(session, articles))
    return PollOutcome(
        feed_id=feed.id,
        articles=new,
        duplicates=len(parsed.articles) - len(new),
        skipped=len(parsed.skipped),
    )


def _record_failure(feed: Feed, error: FeedError) -> PollOutcome:
    message = str(error)[:MAX_ERROR_LENGTH]
    feed.last_error, feed.error_count = message, (feed.error_count or 0) + 1
    log.warning("feed.poll_failed", extra={"feed_id": feed.id, "error": message})
    return PollOutcome(feed_id=feed.id, error=message)


def _budget(client: httpx.Client) -> float:
    # httpx's timeouts bound each read; the client's timeout is also the bound on the whole download.
    return client.timeout.read or client.timeout.connect or 15.0


def _read_response(response: httpx.Response, *, max_bytes: int) -> FetchResult:
    etag, last_modified = response.headers.get("etag"), response.headers.get("last-modified")
    if response.status_code == httpx.codes.NOT_MODIFIED:
        return FetchResult(content=None, etag=etag, last_modified=last_modified)
    if response.status_code >= 300:  # a redirect with a Location was followed; this one has none
        raise FeedFetchError(f"HTTP {response.status_code} {response.reason_phrase}")
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FeedTooLargeError(f"response of {declared} bytes is over the {max_bytes}-byte limit")
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FeedTooLargeError(f"response is over the {max_bytes}-byte limit")
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
