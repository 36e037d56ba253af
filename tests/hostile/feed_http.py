"""Hostile feeds served over HTTP to a running stack: added with ``rasid feeds add``, polled by beat,
stored and alerted like any feed. Judged by what the stack records and sends: every feed is polled
(a success or a readable error, never "last poll: never"), its Arabic items are stored, no mail
carries a header or recipient a title smuggled in, and no list command prints a terminal escape.
"""

from __future__ import annotations

import random
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from tests.e2e.stack import RASID
from tests.hostile.corpus import HOSTILE_TITLES, arabic_article, rss
from tests.hostile.folder_run import FolderRun
from tests.hostile.outcomes import Outcome
from tests.peers import HttpPeer, Route, SmtpSink, answer, redirect

BUDGET = 30.0
RSS = "application/rss+xml; charset=utf-8"
ESCAPE = "\x1b"
INJECTED_HEADERS = ("bcc", "x-injected")


@dataclass(frozen=True)
class FeedCase:
    """One feed: its family, the path it is served at, how, and the item tokens that must be stored."""

    family: str
    token: str
    path: str
    route: Route
    stored: tuple[str, ...] = ()


def feed_cases(peer: HttpPeer) -> list[FeedCase]:
    """The feeds the peer serves, built with the corpus's seeded generator."""
    rng = random.Random(11)
    cases: list[FeedCase] = []

    def items(prefix: str, titles: Sequence[str]) -> tuple[list[tuple[str, str]], tuple[str, ...]]:
        tokens = tuple(f"{prefix}{index:02d}-" for index in range(len(titles)))
        rows = [
            (f"{token} {title}", arabic_article(rng, marker=token)[1])
            for token, title in zip(tokens, titles, strict=True)
        ]
        return rows, tokens

    def feed(family: str, token: str, title: str, titles: Sequence[str]) -> None:
        rows, tokens = items(token[:-1], titles)
        path = f"/{token}feed.xml"
        cases.append(FeedCase(family, token, path, answer(200, rss(title, rows), content_type=RSS), tokens))

    feed("feed-http-long-title", "h6001-", "أخبار " * 2000, ["خبر عادي"])
    crlf = [title for title in HOSTILE_TITLES if "\n" in title or "=?" in title]
    feed("feed-http-crlf-titles", "h6002-", "أخبار", crlf)
    escapes = [title for title in HOSTILE_TITLES if ESCAPE in title]
    feed("feed-http-escapes", "h6003-", "أخبار \x1b[31mحمراء\x1b[0m", escapes)
    ok_rows, ok_tokens = items("h6004", ["خبر بعد تحويل"])
    peer.route("/ok.xml", answer(200, rss("أخبار", ok_rows), content_type=RSS))
    redirects = [
        ("h6004-", redirect("/ok.xml"), ok_tokens),  # one hop, then the feed
        ("h6005-", redirect("/h6005-feed.xml"), ()),  # a loop
        ("h6006-", redirect("file:///etc/passwd"), ()),
        ("h6007-", redirect("http://127.0.0.1:1/nothing"), ()),
        ("h6008-", redirect("/h6008-hop"), ()),  # a hop to a path that answers 404
    ]
    for token, route, stored in redirects:
        cases.append(FeedCase("feed-http-redirects", token, f"/{token}feed.xml", route, stored))
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY {chr(98 + level)} "{f"&{chr(97 + level)};" * 10}">' for level in range(9))
        + ']><rss version="2.0"><channel><title>&j;</title><item><title>h6009-</title>'
        + "<description>&j;</description></item></channel></rss>"
    ).encode()
    cases.append(
        FeedCase("feed-http-malformed", "h6009-", "/h6009-feed.xml", answer(200, bomb, content_type=RSS))
    )
    broken = rss("أخبار", ok_rows)[:-40] + b"\x00\xff<<"
    cases.append(
        FeedCase("feed-http-malformed", "h6010-", "/h6010-feed.xml", answer(200, broken, content_type=RSS))
    )
    cases.append(
        FeedCase("feed-http-malformed", "h6011-", "/h6011-feed.xml", answer(200, b"", content_type=RSS))
    )
    return cases


def run_feeds(run: FolderRun, peer: HttpPeer, sink: SmtpSink, database_url: str) -> list[Outcome]:
    """Serve and add every feed, wait for their polls, and judge them."""
    cases = feed_cases(peer)
    offsets = run.log_offsets()
    run.stack.rasid("subscribe", "email", "analyst@example.org", "--topics", "withdrawal")
    for case in cases:
        peer.route(case.path, case.route)
    adding = [
        subprocess.Popen([*RASID, "feeds", "add", peer.url(case.path)], env=run.stack.env) for case in cases
    ]
    assert all(process.wait(timeout=120) == 0 for process in adding), "rasid feeds add failed"
    deadline = time.monotonic() + BUDGET
    while True:
        feeds = _feeds(database_url)
        titles = run.ledger().titles
        polled = all(feeds.get(peer.url(case.path), (False, None))[0] for case in cases)
        stored = all(any(token in title for title in titles) for case in cases for token in case.stored)
        if (polled and stored) or time.monotonic() > deadline:
            break
        time.sleep(1)
    time.sleep(3)  # let the alerts of the stored items go out
    tracebacks = run.new_tracebacks(offsets)
    outcomes = [_judge(case, feeds.get(peer.url(case.path)), titles, tracebacks) for case in cases]
    outcomes += _judge_mails(sink)
    outcomes += _judge_listings(run)
    return outcomes


def _feeds(database_url: str) -> dict[str, tuple[bool, str | None]]:
    """Each feed's URL: whether a poll of it ended (in a success or a recorded error), and its error."""
    with psycopg.connect(database_url) as connection:
        rows = connection.execute("SELECT url, last_success_at, last_error FROM ingest_feeds").fetchall()
    return {url: (success is not None or error is not None, error) for url, success, error in rows}


def _judge(
    case: FeedCase, feed: tuple[bool, str | None] | None, titles: list[str], tracebacks: list[str]
) -> Outcome:
    family, token = case.family, case.token
    if feed is None or not feed[0]:
        result = "crash" if tracebacks else "no-reason"
        return Outcome(
            family, token, result, f"the feed was never polled ({'; '.join(tracebacks[:1]) or 'no error'})"
        )
    missing = [item for item in case.stored if not any(item in title for title in titles)]
    if missing:
        return Outcome(family, token, "wrong", f"items never stored: {missing}")
    if feed[1]:
        return Outcome(family, token, "rejected", feed[1])
    return Outcome(family, token, "accepted")


def _judge_mails(sink: SmtpSink) -> list[Outcome]:
    """A title may not add a recipient or a header to the mail that announces it."""
    outcomes = []
    for mail in sink.received():
        subject = str(mail.message.get("subject", ""))
        token = next((part for part in subject.split() if part.startswith("h60")), "(mail)")
        injected = [name for name in INJECTED_HEADERS if mail.message.get(name) is not None]
        if mail.recipients != ["analyst@example.org"] or injected or "\n" in subject or "\r" in subject:
            detail = f"recipients {mail.recipients}, injected headers {injected}, subject {subject[:120]!r}"
            outcomes.append(Outcome("feed-http-crlf-titles", token, "unsafe", detail))
    return outcomes


def _judge_listings(run: FolderRun) -> list[Outcome]:
    """The list commands print no terminal escape a feed put in a title."""
    outcomes = []
    for command in (("articles", "list", "--limit", "500"), ("feeds", "list")):
        output = run.stack.rasid(*command).stdout
        if ESCAPE in output:
            line = next(line for line in output.splitlines() if ESCAPE in line)
            outcomes.append(
                Outcome("feed-http-escapes", " ".join(command), "unsafe", f"printed raw: {line[:120]!r}")
            )
    return outcomes
