"""The hostile file corpus through the watched folder of a real stack: the compose services as local
processes on PostgreSQL and Redis, one family at a time, good articles dropped between the inputs.

Judged per input (``tests.hostile.outcomes``): no process dies or logs a traceback, nothing hangs past
its budget, every rejected file has a reason, nothing outside the folder reaches the database, and
every good article dropped meanwhile is stored.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import redis

from tests.e2e.stack import compose_stack, stack_env
from tests.helpers import POSTGRES_ADMIN_URL, own_redis_database, unavailable
from tests.hostile.conftest import report
from tests.hostile.corpus import feed_corpus, file_corpus
from tests.hostile.feed_http import run_feeds
from tests.hostile.folder_run import FolderRun
from tests.hostile.outcomes import (
    Outcome,
    computed_once,
    describe_failures,
    family_failures,
    family_params,
    summary,
    summary_folder,
)
from tests.peers import SmtpSink, http_peer, smtp_sink

pytestmark = [pytest.mark.hostile, pytest.mark.xdist_group("hostile-folder")]

# Every other randomly damaged file: the other half goes through ``rasid classify`` only, which keeps
# this test's time reasonable.
SAMPLES = [s for s in file_corpus() if s.family != "random-damage" or int(s.token[1:5]) % 2]
# RASID_HOSTILE_FAMILIES=deep-html,special-files runs only those families through the stack.
FAMILIES = [
    family
    for family in dict.fromkeys(sample.family for sample in SAMPLES)
    if family in os.environ.get("RASID_HOSTILE_FAMILIES", family).split(",")
]
# Families that fail on today's code, with the finding of the issue that covers them.
XFAIL: dict[str, str] = {}

FEED_FAMILIES = [
    "feed-http-long-title",
    "feed-http-crlf-titles",
    "feed-http-escapes",
    "feed-http-redirects",
    "feed-http-malformed",
]
FEED_XFAIL: dict[str, str] = {}


@contextmanager
def fresh_database() -> Iterator[str]:
    """A database of this run's own on the local PostgreSQL (a plain psycopg URL)."""
    name = f"rasid_hostile_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        unavailable("PostgreSQL", error)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def stack_extra(sink: SmtpSink) -> dict[str, str]:
    """The settings the stack runs with, beyond the end-to-end tests' own."""
    return {
        # An article is handed on again only after an hour: a hung one must not come back.
        "RASID_RESEND_AFTER_SECONDS": "3600",
        "RASID_RESCAN_SECONDS": "10",
        "RASID_FEED_POLL_SECONDS": "2",
        "RASID_FEED_TIMEOUT": "5",
        # The feeds are served from 127.0.0.1.
        "RASID_ALLOW_PRIVATE_TARGETS": "true",
        "RASID_SMTP_HOST": sink.host,
        "RASID_SMTP_PORT": str(sink.port),
    }


def run_stack(workdir: Path) -> dict[str, list[Outcome]]:
    """Start the compose services on their own database and Redis, drop the file corpus family by
    family, then serve them the hostile feeds."""
    outside = workdir / "outside"
    outside.mkdir(parents=True)
    with (
        fresh_database() as database,
        own_redis_database() as broker,
        smtp_sink() as sink,
        http_peer() as peer,
    ):
        url = database.replace("postgresql://", "postgresql+psycopg://")
        env = stack_env(workdir=workdir, database_url=url, broker_url=broker, extra=stack_extra(sink))
        with compose_stack(env, workdir) as stack:
            run = FolderRun(
                stack, database_url=database, broker=redis.Redis.from_url(broker), outside=outside
            )
            started = time.monotonic()
            for family in FAMILIES:
                run.run_family(family, [sample for sample in SAMPLES if sample.family == family])
            text = summary("watched folder", run.outcomes, seconds=time.monotonic() - started)
            seconds = ", ".join(f"{family} {value:.0f}s" for family, value in run.seconds.items())
            report(
                workdir.parent, f"{text}\nprocesses restarted: {run.restarts}\nseconds per family: {seconds}"
            )
            started = time.monotonic()
            feeds = run_feeds(run, peer, sink, database)
            report(workdir.parent, summary("feeds over HTTP", feeds, seconds=time.monotonic() - started))
    return {"folder": run.outcomes, "feeds": feeds}


@pytest.fixture(scope="module")
def stack_outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Outcome]]:
    return computed_once(
        tmp_path_factory, "stack", lambda: run_stack(summary_folder(tmp_path_factory) / "hostile-stack")
    )


@pytest.mark.parametrize("family", family_params(FAMILIES, XFAIL))
def test_folder_survives(stack_outcomes: dict[str, list[Outcome]], family: str) -> None:
    """Each input of the family is stored or rejected with a reason, with no crash, hang or leak,
    and the good articles dropped among them are stored."""
    failures = family_failures(stack_outcomes["folder"], family)
    assert not failures, describe_failures(failures)


@pytest.mark.parametrize("family", family_params(FEED_FAMILIES, FEED_XFAIL))
def test_feeds_over_http_survive(stack_outcomes: dict[str, list[Outcome]], family: str) -> None:
    """Each hostile feed is polled to a success or a readable error, its items are stored, and no
    title reaches a mail header or the terminal."""
    failures = family_failures(stack_outcomes["feeds"], family)
    assert not failures, describe_failures(failures)


def test_corpus_holds_a_thousand_inputs() -> None:
    assert len(file_corpus()) + len(feed_corpus()) >= 1000
