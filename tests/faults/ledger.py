"""The ledger that judges a fault scenario: what went in (the articles dropped) against what came out
(articles stored, alert rows, webhooks and mails on the wire), read straight from the database and the
peers, so that no part of Rasid under test grades itself.

The promise it checks: every distinct article dropped is stored exactly once; every alert its topics
call for exists and is delivered (or, to a receiver that is gone, failed after one request); the
webhook ids delivered are exactly the alert rows; no alert is sent while an earlier send of it is
still running; a second send of a delivered alert (a duplicate on the wire) only where the fault hit
mid-send, and then it is counted."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from tests.faults.articles import normalized
from tests.peers import Reply, Request, Route

TERMINAL = {"delivered", "failed"}
MAIL_ALERT_ID = re.compile(r"<rasid\.alert\.(\d+)\.")


@dataclass(frozen=True)
class Exchange:
    """One webhook POST as the receiver saw it: when it arrived, the status answered, and when the
    answer was over (written whole, or the client hung up); None while it is still being written."""

    webhook_id: str
    status: int
    received_at: float
    ended_at: float | None


class WireLog:
    """Wraps a receiver's route to learn when each answer ends (the peer records only arrivals)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._exchanges: dict[int, Exchange] = {}
        self._next = 0

    def recording(self, route: Route) -> Route:
        def respond(request: Request) -> Reply:
            reply = route(request)
            with self._lock:
                key = self._next
                self._next += 1
                self._exchanges[key] = Exchange(
                    request.headers.get("webhook-id", ""), reply.status, request.received_at, None
                )

            def chunks() -> Any:
                try:
                    yield from reply.chunks
                finally:
                    with self._lock:
                        old = self._exchanges[key]
                        self._exchanges[key] = Exchange(
                            old.webhook_id, old.status, old.received_at, time.monotonic()
                        )

            return Reply(reply.status, reply.headers, chunks(), reply.length, reply.delay, reply.pause)

        return respond

    def exchanges(self) -> list[Exchange]:
        with self._lock:
            return sorted(self._exchanges.values(), key=lambda exchange: exchange.received_at)


@dataclass(frozen=True)
class AlertRow:
    id: int
    subscription_id: int
    article_id: str
    story: str
    status: str


Channels = dict[int, tuple[str, frozenset[str]]]  # subscription id -> channel, topics


@dataclass(frozen=True)
class Snapshot:
    """What came out, at one moment."""

    titles: Counter[str]  # each stored article's title, normalized
    topics: dict[str, frozenset[str]]  # story -> topics its articles were tagged with
    channels: Channels  # subscription id -> channel, topics
    alerts: list[AlertRow]
    exchanges: list[Exchange]
    mail_alert_ids: list[int]  # the alert id in each accepted mail's Message-ID


def read_database(engine: Engine) -> tuple[Counter[str], dict[str, frozenset[str]], Channels, list[AlertRow]]:
    """Stored titles, the topics of each story's articles, the subscriptions and the alert rows.

    A subscription is owed one alert per story (an article not yet placed in a story counts as a
    story of its own); the scenarios' subscriptions watch topics only."""
    with engine.connect() as connection:
        articles = connection.execute(text("SELECT id, title FROM alert_articles")).all()
        members = connection.execute(text("SELECT article_id, story_id FROM alert_story_members")).all()
        tags = connection.execute(text("SELECT article_id, topic FROM alert_tags")).all()
        subscriptions = connection.execute(text("SELECT id, channel, rule FROM alert_subscriptions")).all()
        alerts = connection.execute(
            text("SELECT id, subscription_id, article_id, story_id, status FROM alert_alerts")
        ).all()
    story_of = {str(row.id): f"article {row.id}" for row in articles}
    story_of.update({str(row.article_id): f"story {row.story_id}" for row in members})
    topics: dict[str, set[str]] = {story: set() for story in story_of.values()}
    for row in tags:
        story = story_of.get(str(row.article_id), f"article {row.article_id}")
        topics.setdefault(story, set()).add(str(row.topic))
    channels: Channels = {}
    for row in subscriptions:
        rule = row.rule if isinstance(row.rule, dict) else json.loads(row.rule)
        channels[int(row.id)] = (str(row.channel), frozenset(str(item["topic"]) for item in rule["topics"]))
    return (
        Counter(normalized(str(row.title)) for row in articles),
        {key: frozenset(value) for key, value in topics.items()},
        channels,
        [
            AlertRow(
                int(r.id),
                int(r.subscription_id),
                str(r.article_id),
                f"story {r.story_id}" if r.story_id is not None else f"article {r.article_id}",
                str(r.status),
            )
            for r in alerts
        ],
    )


@dataclass(frozen=True)
class Expectation:
    """What a scenario's fault allows."""

    webhook_delivered: bool = True  # False: the receiver is gone (410) or moved: one request, then failed
    mid_send: bool = False  # the fault can hit a send after the receiver took it: duplicates allowed


@dataclass
class Verdict:
    """The ledger's judgement and the numbers of the table row."""

    problems: list[str] = field(default_factory=list)
    articles_in: int = 0
    stored: int = 0
    alerts_expected: int = 0
    delivered: int = 0
    duplicates: int = 0


def judge(dropped: list[str], snapshot: Snapshot, expectation: Expectation) -> Verdict:
    """The ledger's verdict on ``snapshot``, given the titles of the articles dropped."""
    verdict = Verdict(articles_in=len(dropped))
    for title in dropped:
        count = snapshot.titles.get(title, 0)
        verdict.stored += min(count, 1)
        if count != 1:
            verdict.problems.append(f"stored {count} times: {title[:40]}")
    expected = {
        (story, subscription_id)
        for story, topics in snapshot.topics.items()
        for subscription_id, (_channel, wanted) in snapshot.channels.items()
        if topics & wanted
    }
    rows = {(alert.story, alert.subscription_id): alert for alert in snapshot.alerts}
    _judge_alert_rows(verdict, expected, rows, snapshot, expectation)
    hooks = {pair for pair in expected if snapshot.channels[pair[1]][0] == "webhook"}
    _judge_webhooks(verdict, {pair: rows[pair] for pair in hooks if pair in rows}, snapshot, expectation)
    mails = {rows[pair].id for pair in expected - hooks if pair in rows}
    _judge_mails(verdict, mails, snapshot)
    if verdict.duplicates and not expectation.mid_send:
        verdict.problems.append(f"{verdict.duplicates} duplicates on the wire, and no fault hit a send")
    return verdict


def _judge_alert_rows(
    verdict: Verdict,
    expected: set[tuple[str, int]],
    rows: dict[tuple[str, int], AlertRow],
    snapshot: Snapshot,
    expectation: Expectation,
) -> None:
    """One alert row per story and subscription whose topics meet, each settled as it should."""
    if missing := expected - rows.keys():
        verdict.problems.append(f"{len(missing)} alerts its topics call for were never created")
    if extra := rows.keys() - expected:
        verdict.problems.append(f"{len(extra)} alerts no subscription's topics call for")
    if unsettled := [alert for alert in snapshot.alerts if alert.status not in TERMINAL]:
        statuses = dict(Counter(alert.status for alert in unsettled))
        verdict.problems.append(f"{len(unsettled)} alerts not settled {statuses}")
    should_deliver = {
        pair for pair in expected if expectation.webhook_delivered or snapshot.channels[pair[1]][0] == "email"
    }
    verdict.alerts_expected = len(should_deliver)
    verdict.delivered = sum(alert.status == "delivered" for alert in snapshot.alerts)
    for pair in should_deliver & rows.keys():
        if rows[pair].status != "delivered":
            channel = snapshot.channels[pair[1]][0]
            verdict.problems.append(f"alert {rows[pair].id} ({channel}) is {rows[pair].status}")


def _judge_webhooks(
    verdict: Verdict, rows: dict[tuple[str, int], AlertRow], snapshot: Snapshot, expectation: Expectation
) -> None:
    """Webhook ids accepted on the wire = webhook alert rows; no send overlaps an earlier one."""
    by_id: dict[str, list[Exchange]] = {}
    for exchange in snapshot.exchanges:
        by_id.setdefault(exchange.webhook_id, []).append(exchange)
    row_ids = {f"msg_{row.article_id}_{row.subscription_id}" for row in rows.values()}
    accepted = {hook_id for hook_id, sent in by_id.items() if any(200 <= e.status < 300 for e in sent)}
    if expectation.webhook_delivered and accepted != row_ids:
        verdict.problems.append(
            f"webhook ids delivered {len(accepted)} != webhook alert rows {len(row_ids)}"
            f" (not sent: {len(row_ids - accepted)}, unknown: {len(accepted - row_ids)})"
        )
    if not expectation.webhook_delivered:
        if not_failed := [row.id for row in rows.values() if row.status != "failed"]:
            verdict.problems.append(f"alerts {not_failed} to a receiver that is gone did not fail")
        if resent := [hook_id for hook_id, sent in by_id.items() if len(sent) != 1]:
            verdict.problems.append(f"{len(resent)} webhooks sent again to a receiver that is gone")
    for hook_id, sent in by_id.items():
        if any(later.received_at < (earlier.ended_at or float("inf")) for earlier, later in pairwise(sent)):
            verdict.problems.append(f"{hook_id} sent again while an earlier send was still running")
        first_ok = next((i for i, e in enumerate(sent) if 200 <= e.status < 300), None)
        if first_ok is not None:
            verdict.duplicates += len(sent) - first_ok - 1


def _judge_mails(verdict: Verdict, email_rows: set[int], snapshot: Snapshot) -> None:
    """The alert ids mailed = email alert rows (the Message-ID carries the alert id)."""
    mailed = Counter(snapshot.mail_alert_ids)
    if set(mailed) != email_rows:
        verdict.problems.append(f"alert ids mailed {len(mailed)} != email alert rows {len(email_rows)}")
    verdict.duplicates += sum(count - 1 for count in mailed.values())


def mail_alert_ids(message_ids: list[str]) -> list[int]:
    return [int(found.group(1)) for found in map(MAIL_ALERT_ID.search, message_ids) if found]


def engine_for(url: str) -> Engine:
    return create_engine(url, pool_pre_ping=True)
