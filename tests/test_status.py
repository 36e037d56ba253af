"""``rasid status`` without worker processes: each service's checks from its own tables (SQLite and
PostgreSQL), the heartbeat files of the embedded mode, and what an unreachable broker or database
is reported as."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import redis

from alert_service.delivery import deliver_alert
from alert_service.settings import AlertSettings
from alert_service.status import status_checks as alert_checks
from ingest_service.models import Feed, SeenArticle, SeenFile
from ingest_service.status import status_checks as ingest_checks
from shared.db import session_scope
from shared.heartbeat import (
    REDIS_PREFIX,
    STALE_AFTER_SECONDS,
    Heartbeat,
    RedisHeartbeat,
    heartbeat_folder,
    live_processes,
    live_workers,
)
from shared.settings import EMBEDDED_BROKER_URL, RasidSettings
from shared.status import Check, Report, collect_status, process_checks, render_text
from tests.alert.helpers import NOW, add_subscription, classified_message, store
from tests.helpers import own_redis_database
from tests.peers import free_port, wait_for


def _values(checks: list[Check]) -> dict[str, object]:
    return {check.name: check.value for check in checks}


def _seen_article(article_id: str, hours_ago: float) -> SeenArticle:
    when = NOW - timedelta(hours=hours_ago)
    return SeenArticle(article_id=article_id, source="a.txt", source_kind="file", first_seen_at=when)


def test_the_ingest_service_reports_articles_feeds_and_rejected_files(database_url: str) -> None:
    with session_scope(database_url) as session:
        ages = (("a", 0.5), ("b", 5), ("c", 30))
        session.add_all([_seen_article(letter * 32, hours) for letter, hours in ages])
        session.add(Feed(url="https://example.org/ok.xml", added_at=NOW, error_count=0))
        session.add(
            Feed(url="https://example.org/bad.xml", added_at=NOW, error_count=3, last_error="HTTP 503")
        )
        files = (("x.bin", "rejected", 2), ("y.bin", "rejected", 40), ("z.txt", "ingested", 1))
        for name, status, hours_ago in files:
            seen_at = NOW - timedelta(hours=hours_ago)
            session.add(SeenFile(path=name, size=1, mtime_ns=1, status=status, seen_at=seen_at))
    with session_scope(database_url) as session:
        checks = ingest_checks(session, NOW)
    assert _values(checks) == {
        "articles.ingested_last_hour": 1,
        "articles.ingested_last_day": 2,
        "articles.last_ingested_at": (NOW - timedelta(hours=0.5)).isoformat(timespec="seconds"),
        "feeds.failing": 1,
        "files.rejected_last_day": 1,
        "files.rejected": 2,
    }
    [problem] = [check.problem for check in checks if check.problem]
    assert problem.startswith("feed failing: feed 2 (3 failed poll(s)): HTTP 503")


def test_the_alert_service_reports_alerts_sent_pending_and_failed(database_url: str) -> None:
    add_subscription(database_url, "webhook", f"http://127.0.0.1:{free_port()}/hook", ["strikes"])
    add_subscription(database_url, "email", "analyst@example.org", ["strikes"])
    webhook_alert, email_alert = store(database_url, classified_message())
    with session_scope(database_url) as session:
        before = alert_checks(session, NOW)
    assert _values(before) == {
        "articles.last_stored_at": NOW.isoformat(timespec="seconds"),
        "alerts.last_sent_at": None,
        "alerts.pending": 2,
        "alerts.failed": 0,
    }
    # Nobody listens on the webhook's port; max_attempts=1 makes its first failure final.
    settings = AlertSettings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        data_dir=Path(os.environ["RASID_DATA_DIR"]),
        allow_private_targets=True,
        max_attempts=1,
    )
    deliver_alert(database_url, webhook_alert, settings=settings, clock=lambda: NOW)
    deliver_alert(database_url, email_alert, settings=settings, clock=lambda: NOW)
    with session_scope(database_url) as session:
        after = alert_checks(session, NOW)
    values = _values(after)
    assert (values["alerts.pending"], values["alerts.failed"]) == (0, 1)
    assert values["alerts.last_sent_at"] == NOW.isoformat(timespec="seconds"), "the mailbox delivered"
    [problem] = [check.problem for check in after if check.problem]
    assert problem.startswith("1 alert(s) failed") and "rasid alerts retry --failed" in problem


def test_heartbeats_count_live_workers_only(tmp_path: Path) -> None:
    folder = tmp_path / "heartbeats"
    heartbeat = Heartbeat(folder, "classify")
    heartbeat.start()
    try:
        wait_for(lambda: live_workers(folder) == {"classify": 1}, timeout=10, what="the first beat")
        (folder / "ingest.1").touch()
        dead = folder / "alert.2"
        dead.touch()
        long_ago = time.time() - STALE_AFTER_SECONDS - 5
        os.utime(dead, (long_ago, long_ago))
        assert live_workers(folder) == {"classify": 1, "ingest": 1}
        assert live_workers(folder, now=time.time() + STALE_AFTER_SECONDS + 30) == {}
    finally:
        heartbeat.stop()
    assert not heartbeat.path.exists(), "a worker that shuts down removes its file"
    assert stat_mode(folder) == 0o700


def _problems(checks: list[Check]) -> list[str]:
    return [check.problem for check in checks if check.problem]


def test_beat_and_the_watcher_must_beat_and_only_one_beat_on_the_embedded_stack(tmp_path: Path) -> None:
    settings = RasidSettings(_env_file=None, data_dir=tmp_path, broker_url=EMBEDDED_BROKER_URL)  # type: ignore[call-arg]
    folder = heartbeat_folder(settings)
    folder.mkdir()
    assert _problems(process_checks(settings)) == [
        f"no beat is running (none beat in the last {STALE_AFTER_SECONDS:g} s)",
        f"no watcher is running (none beat in the last {STALE_AFTER_SECONDS:g} s)",
    ]
    for name in ("beat.10", "watcher.11", "classify.12"):
        (folder / name).touch()
    checks = process_checks(settings)
    assert _values(checks) == {"processes.beat": 1, "processes.watcher": 1}
    assert not _problems(checks), "a worker's file is not a process's"
    (folder / "beat.13").touch()
    assert _problems(process_checks(settings)) == [
        "2 beat processes are running: each periodic task is sent 2 times; run one"
    ]


def test_a_process_beats_on_redis_into_a_key_that_expires(tmp_path: Path, redis_url: str) -> None:
    with own_redis_database(redis_url) as broker_url:
        settings = RasidSettings(_env_file=None, data_dir=tmp_path, broker_url=broker_url)  # type: ignore[call-arg]
        assert _problems(process_checks(settings))[0].startswith("no beat is running")
        heartbeat = RedisHeartbeat(broker_url, "watcher")
        heartbeat.start()
        try:
            wait_for(lambda: live_processes(settings) == {"watcher": 1}, timeout=10, what="the first beat")
            client = redis.Redis.from_url(broker_url)
            assert heartbeat.key.startswith(f"{REDIS_PREFIX}watcher:")
            # A killed process leaves nothing behind: its key expires.
            assert 0 < client.pttl(heartbeat.key) <= STALE_AFTER_SECONDS * 1000
            assert [check.problem for check in process_checks(settings)] == [
                f"no beat is running (none beat in the last {STALE_AFTER_SECONDS:g} s)",
                None,
            ]
        finally:
            heartbeat.stop()
        assert live_processes(settings) == {}, "a process that stops removes its key"


def test_beats_on_an_unreachable_redis_need_attention(tmp_path: Path) -> None:
    broker_url = f"redis://127.0.0.1:{free_port()}/0"
    settings = RasidSettings(_env_file=None, data_dir=tmp_path, broker_url=broker_url)  # type: ignore[call-arg]
    heartbeat = RedisHeartbeat(broker_url, "beat")
    heartbeat.start()  # beating into nothing does not stop the process
    heartbeat.stop()
    [check] = process_checks(settings)
    assert check.value == "unknown" and check.problem and "heartbeats" in check.problem


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_an_unreachable_broker_and_database_need_attention(tmp_path: Path) -> None:
    port = free_port()
    settings = RasidSettings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path,
        broker_url=f"redis://127.0.0.1:{port}/0",
        database_url=f"postgresql+psycopg://postgres@127.0.0.1:{port}/rasid",
    )
    report = collect_status(settings, now=NOW)
    assert not report.healthy
    assert report.as_json()["checks"] == {"broker": "unreachable", "database": "unreachable"}
    assert [problem.split(":")[0] for problem in report.problems] == [
        "cannot reach the broker",
        "cannot reach the database",
    ]


def test_the_text_report_lists_every_check_then_what_needs_attention() -> None:
    dead = Check("workers.classify", 0, problem="no classify worker")
    report = Report((Check("broker", "reachable"), dead))
    assert render_text(report) == [
        "rasid: needs attention",
        "   broker            reachable",
        " ! workers.classify  0",
        "attention: no classify worker",
    ]
    assert render_text(Report((Check("alerts.last_sent_at", None),)))[0] == "rasid: healthy"
