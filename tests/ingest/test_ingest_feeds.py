"""Feeds: mapping entries to articles (table-driven), and polling a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from ingest_service.errors import FeedFetchError, FeedParseError, FeedTooLargeError
from ingest_service.feeds import (
    USER_AGENT,
    add_feed,
    fetch_feed,
    find_feed,
    make_client,
    parse_feed,
    poll_feed,
)
from shared.db import session_scope
from tests.ingest.helpers import FEED_FIXTURES, Forwarded
from tests.peers import HttpPeer

CASES = json.loads((FEED_FIXTURES / "cases.json").read_text(encoding="utf-8"))
MAX_BYTES = 1_000_000


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with make_client(timeout=0.5) as client:
        yield client


@pytest.mark.parametrize("case", CASES, ids=lambda case: case["file"])
def test_feed_entries_become_articles(case: dict[str, Any]) -> None:
    parsed = parse_feed((FEED_FIXTURES / case["file"]).read_bytes())

    assert parsed.title == case["feed_title"]
    assert len(parsed.articles) == case["count"]
    for index, expected in case["entries"].items():
        article = parsed.articles[int(index)]
        assert (article.source, article.source_kind) == (case["feed_title"], "feed")
        published = expected.get("published_at")
        assert article.published_at == (datetime.fromisoformat(published) if published else None)
        for key in ("title", "url", "text"):
            if key in expected:
                assert getattr(article, key) == expected[key]
        if "text_starts" in expected:
            assert article.text.startswith(expected["text_starts"])
    for article in parsed.articles:
        assert "<" not in article.text and "<" not in article.title


def test_page_that_is_not_a_feed_fails_to_parse() -> None:
    with pytest.raises(FeedParseError):
        parse_feed("<html><body><p>صفحة</p></body></html>".encode())


def poll(
    database_url: str, url: str, client: httpx.Client, forwarded: Forwarded, *, max_bytes: int = MAX_BYTES
) -> Any:
    with session_scope(database_url) as session:
        feed_id = add_feed(session, url).id
    outcome = poll_feed(database_url, feed_id, client=client, max_bytes=max_bytes)
    forwarded.extend(outcome.articles)
    return outcome


def feed_row(database_url: str, url: str) -> Any:
    with session_scope(database_url) as session:
        return find_feed(session, url)


def test_second_poll_is_conditional_and_a_304_brings_nothing_new(
    database_url: str, feed_server: HttpPeer, client: httpx.Client, forwarded: Forwarded
) -> None:
    url = feed_server.url("/bbc.xml")

    first = poll(database_url, url, client, forwarded)
    second = poll(database_url, url, client, forwarded)

    assert (first.new, first.not_modified) == (25, False)
    assert (second.new, second.not_modified) == (0, True)
    assert len(forwarded) == 25
    first_headers, second_headers = [request.headers for request in feed_server.received("/bbc.xml")]
    assert "if-none-match" not in first_headers
    assert second_headers["if-none-match"] == feed_row(database_url, url).etag
    assert second_headers["if-modified-since"]
    assert first_headers["user-agent"] == USER_AGENT
    feed = feed_row(database_url, url)
    assert feed.title == "BBC middleEast (sample)"
    assert (feed.last_error, feed.error_count) == (None, 0)
    assert feed.last_success_at is not None


def test_same_entries_from_another_feed_are_duplicates(
    database_url: str, feed_server: HttpPeer, client: httpx.Client, forwarded: Forwarded
) -> None:
    poll(database_url, feed_server.url("/bbc.xml"), client, forwarded)

    mirror = poll(database_url, feed_server.url("/bbc-mirror.xml"), client, forwarded)

    assert (mirror.new, mirror.duplicates) == (0, 25)
    assert len(forwarded) == 25


FAILURES = [
    ("/error.xml", "HTTP 500"),
    ("/slow.xml", "timed out"),
    ("/drip.xml", "timed out"),
    ("/huge.xml", "limit"),
    ("/huge-declared.xml", "limit"),
    ("/page.html", "not an RSS or Atom feed"),
    ("/missing.xml", "HTTP 404"),
]


@pytest.mark.parametrize("failure", FAILURES, ids=lambda failure: failure[0])
def test_one_failing_feed_records_its_error_and_does_not_stop_the_others(
    database_url: str,
    feed_server: HttpPeer,
    client: httpx.Client,
    forwarded: Forwarded,
    failure: tuple[str, str],
) -> None:
    path, error = failure
    failed = poll(database_url, feed_server.url(path), client, forwarded, max_bytes=100_000)
    failed_again = poll(database_url, feed_server.url(path), client, forwarded, max_bytes=100_000)
    healthy = poll(database_url, feed_server.url("/cnn.xml"), client, forwarded, max_bytes=100_000)

    assert error in (failed.error or "")
    assert failed_again.error == failed.error
    # The CNN sample repeats one story under two links: content ids catch it.
    assert (healthy.error, healthy.new, healthy.duplicates) == (None, 24, 1)
    feed = feed_row(database_url, feed_server.url(path))
    assert (feed.error_count, feed.last_error, feed.last_success_at) == (2, failed.error, None)
    assert feed.last_polled_at is not None


def test_size_cap_is_enforced_while_streaming(feed_server: HttpPeer, client: httpx.Client) -> None:
    with pytest.raises(FeedTooLargeError):
        fetch_feed(client, feed_server.url("/huge.xml"), etag=None, last_modified=None, max_bytes=100_000)
    with pytest.raises(FeedTooLargeError):
        fetch_feed(client, feed_server.url("/bbc.xml"), etag=None, last_modified=None, max_bytes=1_000)


def test_unreachable_feed_is_a_fetch_error(client: httpx.Client) -> None:
    with pytest.raises(FeedFetchError, match="network error"):
        fetch_feed(client, "http://127.0.0.1:9/feed.xml", etag=None, last_modified=None, max_bytes=MAX_BYTES)
