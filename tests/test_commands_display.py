"""What the human-readable lines of ``rasid`` print of untrusted text (feed and article titles, file
names, errors from receivers): no terminal escape, no control character, no bidi override, one line
each; URLs with credentials are shown redacted. ``--json`` keeps the text as it is, JSON-escaped."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from alert_service.models import Alert
from ingest_service.feeds import add_feed
from ingest_service.models import Feed, SeenFile
from shared.commands import printable, redacted_url
from shared.db import session_scope
from tests.alert.helpers import add_subscription, classified_message, store
from tests.commands import json_rows, run

# No NUL: PostgreSQL text cannot hold one (the printable test below has it).
HOSTILE = "عنوان\x1b[2J\x1b]0;owned\x07\x9b31m\u202eمقلوب\u202c\r\nX-Fake: 1\x0b end"
FORBIDDEN = ["\x1b", "\x9b", "\x07", "\x0b", "\u202e", "\u202c", "\r"]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (HOSTILE, "عنوان[2J]0;owned31mمقلوب X-Fake: 1 end"),
        ("a\x00b\x7fc", "abc"),
        ("غارات\u200f جوية\u200c", "غارات\u200f جوية\u200c"),  # the marks Arabic needs stay
        ("a\tb\n\nc\u2028d\x85e", "a b c d e"),
        ("\u2066isolate\u2069 \ufff9note\ufffb", "isolate note"),
    ],
)
def test_printable(text: str, shown: str) -> None:
    assert printable(text) == shown


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:s3cret@hooks.example.org/a?x=1", "https://user:***@hooks.example.org/a?x=1"),
        ("https://token@hooks.example.org/", "https://***@hooks.example.org/"),
        ("https://hooks.example.org:8443/a", "https://hooks.example.org:8443/a"),
        ("analyst@example.org", "analyst@example.org"),
    ],
)
def test_redacted_url(url: str, shown: str) -> None:
    assert redacted_url(url) == shown


def _assert_clean(output: str) -> None:
    for char in FORBIDDEN:
        assert char not in output, repr(char)


def test_article_and_alert_lists_print_no_escape(database_url: str) -> None:
    add_subscription(database_url, "webhook", "https://hooks.example.org/a", ["strikes"])
    message = classified_message()
    article = message.article.model_copy(update={"title": HOSTILE, "source": "feed: \x1b[31mred"})
    [alert_id] = store(database_url, message.model_copy(update={"article": article}))
    with session_scope(database_url) as session:
        session.execute(update(Alert).where(Alert.id == alert_id).values(last_error="SMTP 451 \x1b[5mblink"))
    human = run(database_url, "articles", "list").output
    _assert_clean(human)
    assert "عنوان[2J]0;owned31mمقلوب X-Fake: 1 end" in human
    _assert_clean(run(database_url, "alerts", "list").output)
    [row] = json_rows(database_url, "articles", "list")
    assert row["title"] == HOSTILE


def test_subscriptions_list_redacts_credentials(database_url: str) -> None:
    add_subscription(database_url, "webhook", "https://rasid:s3cret@hooks.example.org/a", ["strikes"])
    human = run(database_url, "subscriptions", "list").output
    assert "s3cret" not in human
    assert "https://rasid:***@hooks.example.org/a" in human
    [row] = json_rows(database_url, "subscriptions", "list")
    assert row["target"] == "https://rasid:***@hooks.example.org/a"


def test_feed_and_file_lists_print_no_escape(database_url: str) -> None:
    with session_scope(database_url) as session:
        feed = add_feed(session, "https://news.example.org/rss")
        session.flush()
        session.execute(update(Feed).where(Feed.id == feed.id).values(title=HOSTILE, last_error=HOSTILE))
        session.add(
            SeenFile(
                path="inbox/a\x1b[2J\nb.txt",
                size=1,
                mtime_ns=1,
                sha256="0" * 64,
                status="rejected",
                reason="bad \x1b]0;x\x07 bytes",
                seen_at=datetime(2026, 11, 20, tzinfo=UTC),
            )
        )
    feeds = run(database_url, "feeds", "list").output
    _assert_clean(feeds)
    assert "title: عنوان[2J]0;owned31mمقلوب X-Fake: 1 end" in feeds
    files = run(database_url, "files", "list").output
    _assert_clean(files)
    assert "inbox/a[2J b.txt" in files
