"""The thin Celery tasks, called in-process with a recording ``send_task`` (no worker, no broker)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from ingest_service.schemas import FeedDue, FileReady
from ingest_service.settings import ingest_settings
from shared.db import session_scope
from shared.net import TargetPolicy
from shared.settings import base_settings
from shared.task_names import CLASSIFY_ARTICLE, INGEST_FILE, POLL_FEED, POLL_FEEDS
from tests.ingest.helpers import FILE_FIXTURES
from tests.peers import HttpPeer


@pytest.fixture
def tasks(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[ModuleType, list[tuple[str, dict[str, Any]]]]]:
    monkeypatch.setenv("RASID_DATABASE_URL", database_url)
    monkeypatch.setenv("RASID_BROKER_URL", "memory://")
    monkeypatch.setenv("RASID_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("RASID_WATCH_DIR", str(tmp_path / "inbox"))
    base_settings.cache_clear()
    ingest_settings.cache_clear()
    from ingest_service import tasks as module

    sent: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(module.app, "send_task", lambda name, kwargs, **_options: sent.append((name, kwargs)))
    yield module, sent
    base_settings.cache_clear()
    ingest_settings.cache_clear()


def test_tasks_are_registered_under_the_shared_names(tasks: tuple[ModuleType, list[Any]]) -> None:
    module, _ = tasks
    assert {INGEST_FILE, POLL_FEEDS, POLL_FEED} <= set(module.app.tasks)


def test_ingest_file_sends_one_classify_message_even_when_run_twice(
    tasks: tuple[ModuleType, list[tuple[str, dict[str, Any]]]], tmp_path: Path
) -> None:
    module, sent = tasks
    (tmp_path / "inbox").mkdir()
    path = tmp_path / "inbox" / "news.txt"
    shutil.copyfile(FILE_FIXTURES / "cp1256.txt", path)
    stat = path.stat()
    payload = FileReady(path=str(path), size=stat.st_size, mtime_ns=stat.st_mtime_ns).to_payload()

    module.ingest_file(payload)
    module.ingest_file(payload)

    assert [name for name, _ in sent] == [CLASSIFY_ARTICLE]
    assert sent[0][1]["payload"]["source"] == "news.txt"


def test_poll_feeds_fans_out_one_task_per_active_feed(
    tasks: tuple[ModuleType, list[tuple[str, dict[str, Any]]]], database_url: str, feed_server: HttpPeer
) -> None:
    from ingest_service.feeds import add_feed

    module, sent = tasks
    with session_scope(database_url) as session:
        local = TargetPolicy(allow_private=True)
        paths = ("/error.xml", "/atom.xml")
        ids = [add_feed(session, feed_server.url(path), policy=local).id for path in paths]

    module.poll_feeds()
    for _, kwargs in list(sent):
        module.poll_feed(kwargs["payload"])

    fan_out = [
        FeedDue.model_validate(kwargs["payload"]).feed_id for name, kwargs in sent if name == POLL_FEED
    ]
    assert fan_out == ids
    assert [name for name, _ in sent].count(CLASSIFY_ARTICLE) == 2
