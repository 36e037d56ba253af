"""Digests and quiet hours with real workers: a daily digest subscription (its day shortened to
:data:`DAY_SECONDS` for the test) gets one digest email for the period with the story's outlets and
nothing for the empty period after it; a webhook subscription in its quiet hours gets no alert while
they last and one signed digest when they end. On PostgreSQL and Redis with the compose services'
commands, and under ``rasid run`` (SQLite, the file broker, the local mailbox instead of SMTP)."""

from __future__ import annotations

import email
import email.policy
import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from shared.db import utc_now
from tests.e2e.stack import Stack, compose_stack, embedded_stack, stack_env
from tests.e2e.test_pipeline import (  # noqa: F401 - fixtures
    QUIET_SECONDS,
    drop,
    json_rows,
    peer_env,
    peers,
    redis_broker,
)
from tests.e2e.test_stories import REPORTS
from tests.peers import HttpPeer, SmtpSink, wait_for

pytestmark = pytest.mark.e2e

DAY_SECONDS = 30
# Quiet hours outlast the time the three reports take to be stored and alerted.
QUIET_FOR = timedelta(seconds=45)
DIGEST_ENV = {"RASID_DIGEST_DAY_SECONDS": str(DAY_SECONDS)}


@pytest.fixture
def compose_digests(
    tmp_path: Path,
    fresh_postgres_url: str,
    redis_broker: str,  # noqa: F811
    peers: tuple[SmtpSink, HttpPeer],  # noqa: F811
) -> Iterator[Stack]:
    env = stack_env(
        workdir=tmp_path,
        database_url=fresh_postgres_url,
        broker_url=redis_broker,
        extra={**peer_env(peers[0]), **DIGEST_ENV},
    )
    with compose_stack(env, tmp_path) as stack:
        yield stack
        print(stack.logs())


@pytest.fixture
def embedded_digests(tmp_path: Path) -> Iterator[Stack]:
    """``rasid run`` with no SMTP server: email goes to the local mailbox."""
    env = stack_env(workdir=tmp_path, database_url="", broker_url="filesystem://", extra=DIGEST_ENV)
    with embedded_stack(env, tmp_path) as stack:
        wait_for(
            lambda: stack.rasid("subscriptions", "list", check=False).returncode == 0,
            timeout=60,
            what="the database",
        )
        yield stack
        print(stack.logs())


def run_digest_scenario(stack: Stack, emails: Callable[[], list[EmailMessage]], receiver: HttpPeer) -> None:
    now = utc_now()
    start, end = now - timedelta(minutes=1), now + QUIET_FOR
    quiet = f"{start:%H:%M:%S}-{end:%H:%M:%S}"
    [hook] = json_rows(
        stack, "subscribe", "webhook", receiver.url("/hook"), "--topics", "strikes", "--quiet", quiet
    )
    daily = f"daily@{now:%H:%M:%S}"
    [mail] = json_rows(
        stack, "subscribe", "email", "analyst@example.org", "--topics", "strikes", "--digest", daily
    )
    assert mail["delivery"] == f"daily at {_clock(now)} (UTC)"
    shown = stack.rasid("subscriptions", "show", str(hook["id"])).stdout
    assert f"delivery: immediate (UTC), quiet {_clock(start)}-{_clock(end)}" in shown

    for report in REPORTS:
        drop(stack, report.name, report.read_bytes())
    stored = len(REPORTS)
    wait_for(lambda: len(json_rows(stack, "articles", "list")) == stored, timeout=120, what="the reports")
    if utc_now() < now + QUIET_FOR - timedelta(seconds=5):
        assert not receiver.received("/hook"), "quiet hours hold the alert"

    wait_for(emails, timeout=120, what="the daily digest", interval=0.5)
    wait_for(lambda: receiver.received("/hook"), timeout=120, what="the quiet hours' digest", interval=0.5)
    time.sleep(DAY_SECONDS + QUIET_SECONDS)  # one more (empty) period
    [digest] = emails()
    assert len(receiver.received("/hook")) == 1, "one webhook for the quiet hours"

    plain = digest.get_body(preferencelist=("plain",))
    assert plain is not None
    text = plain.get_content()
    assert "== strikes (1) ==" in text
    assert all(report.name in text for report in REPORTS), "the story's outlets"
    [delivery] = receiver.received("/hook")
    Webhook(hook["secret"]).verify(delivery.body, delivery.headers)
    body = json.loads(delivery.body)
    assert body["type"] == "digest.ready" and body["kind"] == "quiet"
    assert len(body["stories"]) == 1
    statuses = {alert["status"] for alert in json_rows(stack, "alerts", "list")}
    assert statuses == {"delivered"}


def test_digests_and_quiet_hours_on_redis_and_postgresql(
    compose_digests: Stack,
    peers: tuple[SmtpSink, HttpPeer],  # noqa: F811
) -> None:
    sink, receiver = peers
    run_digest_scenario(compose_digests, lambda: [mail.message for mail in sink.received()], receiver)
    assert all(compose_digests.alive().values()), compose_digests.alive()


def test_digests_and_quiet_hours_under_rasid_run(
    embedded_digests: Stack,
    peers: tuple[SmtpSink, HttpPeer],  # noqa: F811
) -> None:
    stack = embedded_digests
    folder = Path(stack.env["RASID_DATA_DIR"]) / "mail"

    def mailbox() -> list[EmailMessage]:
        return [_read(path) for path in sorted(folder.glob("digest-*.eml"))] if folder.is_dir() else []

    run_digest_scenario(stack, mailbox, peers[1])
    assert stack.interrupt("run") == 0


def _read(path: Path) -> EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _clock(value: datetime) -> str:
    """A time of day as Rasid writes it: its seconds only when there are some (08:00, 08:00:15)."""
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")
