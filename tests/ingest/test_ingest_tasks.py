"""The thin Celery tasks, called in-process with a recording ``send_task`` (no worker, no broker)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import select

from ingest_service.models import SeenArticle
from ingest_service.schemas import FeedDue, FileReady, FilesReady
from ingest_service.settings import ingest_settings
from shared.db import session_scope
from shared.messages import ArticleIngested, ArticlesIngested, ArticlesStored, ArticleStored
from shared.net import TargetPolicy
from shared.services import workers
from shared.settings import base_settings
from shared.task_names import (
    CLASSIFY_ARTICLE,
    CLASSIFY_ARTICLES,
    CONFIRM_STORED,
    CONFIRM_STORED_BATCH,
    INGEST_FILE,
    INGEST_FILES,
    POLL_FEED,
    POLL_FEEDS,
)
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


Sent = list[tuple[str, dict[str, Any]]]


def handed_on(sent: Sent) -> list[ArticleIngested]:
    """The articles sent to the classifier, one by one or in batches."""
    articles: list[ArticleIngested] = []
    for name, kwargs in sent:
        if name == CLASSIFY_ARTICLE:
            articles.append(ArticleIngested.from_payload(kwargs["payload"]))
        elif name == CLASSIFY_ARTICLES:
            articles.extend(ArticlesIngested.from_payload(kwargs["payload"]).articles)
    return articles


def dropped(folder: Path, name: str, fixture: str) -> FileReady:
    folder.mkdir(exist_ok=True)
    path = folder / name
    shutil.copyfile(FILE_FIXTURES / fixture, path)
    stat = path.stat()
    return FileReady.of(path, size=stat.st_size, mtime_ns=stat.st_mtime_ns)


def test_tasks_are_registered_under_the_shared_names(tasks: tuple[ModuleType, list[Any]]) -> None:
    module, _ = tasks
    names = {INGEST_FILE, INGEST_FILES, POLL_FEEDS, POLL_FEED, CONFIRM_STORED, CONFIRM_STORED_BATCH}
    assert names <= set(module.app.tasks)


def test_ingest_files_hands_a_batch_on_once_even_when_run_twice(
    tasks: tuple[ModuleType, Sent], tmp_path: Path
) -> None:
    module, sent = tasks
    inbox = tmp_path / "inbox"
    batch = FilesReady(
        files=(
            dropped(inbox, "news.txt", "cp1256.txt"),
            dropped(inbox, "copy.txt", "utf8.txt"),
            dropped(inbox, "other.htm", "h1-title.htm"),
            dropped(inbox, "scan.txt", "binary.txt"),
        )
    )

    module.ingest_files(batch.to_payload())
    module.ingest_files(batch.to_payload())

    assert sorted(article.source for article in handed_on(sent)) == ["news.txt", "other.htm"]
    assert (inbox / "rejected" / "scan.txt.reason.txt").exists()


def test_confirmations_in_a_batch_and_alone_stop_the_resends(
    tasks: tuple[ModuleType, Sent], tmp_path: Path, database_url: str
) -> None:
    module, sent = tasks
    inbox = tmp_path / "inbox"
    batch = FilesReady(files=(dropped(inbox, "a.txt", "cp1256.txt"), dropped(inbox, "b.htm", "h1-title.htm")))
    module.ingest_files(batch.to_payload())
    first, second = (article.article_id for article in handed_on(sent))

    module.confirm_stored_batch(ArticlesStored(article_ids=(first,)).to_payload())
    module.confirm_stored(ArticleStored(article_id=second).to_payload())
    module.confirm_stored_batch(ArticlesStored(article_ids=(first, second)).to_payload())

    with session_scope(database_url) as session:
        rows = session.execute(select(SeenArticle.confirmed_at, SeenArticle.payload)).all()
    assert len(rows) == 2 and all(confirmed and payload is None for confirmed, payload in rows)


def test_the_ingest_worker_consumes_its_hosts_file_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASID_HOST_NAME", "host-b")
    ingest_settings.cache_clear()
    try:
        assert workers()["ingest"].consumed_queues() == ("ingest", "ingest.files.host-b")
    finally:
        ingest_settings.cache_clear()


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

    assert [article.source for article in handed_on(sent)] == ["news.txt"]


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
    assert len(handed_on(sent)) == 2
