"""More workers on more hosts: two processes of each worker kind and two watchers, as on two hosts
with separate folders (host A runs the whole compose stack, host B its workers and watcher only),
against one Redis and one PostgreSQL. A burst dropped into both watched folders is stored once, each
file read by the ingest worker of its own host, and every alert sent once."""

from __future__ import annotations

import re
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from shared.services import known_topics
from tests.e2e.corpus import distinct_files
from tests.e2e.stack import Stack, compose_stack, extra_host_stack, stack_env
from tests.helpers import own_redis_database
from tests.peers import ACCEPT, HttpPeer, http_peer, wait_for

pytestmark = pytest.mark.e2e

PER_HOST = 60
HOST_B_SERVICES = ("ingest-worker", "classify-worker", "alert-worker", "watcher")
QUIET_SECONDS = 3.0
FILE_DONE = re.compile(r"ingest\.file_done .*?path='([^']*)'")


@pytest.fixture
def two_hosts(
    tmp_path: Path, fresh_postgres_url: str, redis_url: str
) -> Iterator[tuple[Stack, Stack, HttpPeer]]:
    with own_redis_database(redis_url) as broker, http_peer(fallback=ACCEPT) as receiver:
        stacks = []
        for host in ("host-a", "host-b"):
            (tmp_path / host).mkdir()
            extra = {"RASID_HOST_NAME": host, "RASID_LOG_LEVEL": "INFO"}
            stacks.append(
                stack_env(
                    workdir=tmp_path / host, database_url=fresh_postgres_url, broker_url=broker, extra=extra
                )
            )
        with (
            compose_stack(stacks[0], tmp_path / "host-a") as host_a,
            extra_host_stack(stacks[1], tmp_path / "host-b", HOST_B_SERVICES) as host_b,
        ):
            yield host_a, host_b, receiver
            print(host_a.logs(), host_b.logs())


def drop_burst(stack: Stack, files: list[bytes], prefix: str) -> None:
    """Write every file aside, then move them all in at once."""
    staging = stack.workdir / "staging"
    staging.mkdir()
    for number, data in enumerate(files):
        (staging / f"{prefix}-{number:03d}.txt").write_bytes(data)
    for path in sorted(staging.iterdir()):
        shutil.move(path, stack.watch_dir / path.name)


def files_read_by(stack: Stack) -> list[str]:
    """The paths the ingest worker of this host logged as done."""
    log = (stack.workdir / "ingest-worker.log").read_text(encoding="utf-8", errors="replace")
    return FILE_DONE.findall(log)


def test_two_hosts_store_every_article_once_and_alert_once(two_hosts: tuple[Stack, Stack, HttpPeer]) -> None:
    host_a, host_b, receiver = two_hosts
    wait_for(
        lambda: host_a.rasid("subscriptions", "list", check=False).returncode == 0, timeout=60, what="db"
    )
    topics = ",".join(sorted(known_topics() or ()))
    host_a.rasid("subscribe", "webhook", receiver.url("/hook"), "--topics", topics)
    files = distinct_files(PER_HOST * 2)

    drop_burst(host_a, files[:PER_HOST], "a")
    drop_burst(host_b, files[PER_HOST:], "b")

    engine = create_engine(host_a.env["RASID_DATABASE_URL"])

    def count(query: str) -> int:
        with engine.connect() as connection:
            return int(connection.execute(text(query)).scalar_one())

    wait_for(
        lambda: count("SELECT count(*) FROM alert_articles") >= PER_HOST * 2, timeout=300, what="articles"
    )
    pending = "SELECT count(*) FROM alert_alerts WHERE status NOT IN ('delivered', 'failed')"
    wait_for(lambda: count(pending) == 0 and len(receiver.received("/hook")) > 0, timeout=300, what="alerts")
    time.sleep(QUIET_SECONDS)

    with engine.connect() as connection:
        files_seen = Counter(
            dict(connection.execute(text("SELECT status, count(*) FROM ingest_files GROUP BY status")).all())
        )
        alert_ids = {str(row[0]) for row in connection.execute(text("SELECT id FROM alert_alerts"))}
    engine.dispose()
    assert count("SELECT count(*) FROM alert_articles") == PER_HOST * 2, "each article stored once"
    assert files_seen == {"ingested": PER_HOST * 2}, "every file read, none rejected or seen twice"
    webhooks = Counter(delivery.headers["webhook-id"] for delivery in receiver.received("/hook"))
    assert alert_ids and len(webhooks) == len(alert_ids), "one webhook per alert"
    assert set(webhooks.values()) == {1}, "no alert sent twice"
    for stack, other in ((host_a, host_b), (host_b, host_a)):
        read = files_read_by(stack)
        assert read, "both hosts' ingest workers took part"
        assert all(path.startswith(str(stack.watch_dir)) for path in read), "only its own host's files"
        assert not any(path.startswith(str(other.watch_dir)) for path in read)
    assert all(host_a.alive().values()) and all(host_b.alive().values())
