"""Storing a batch of classified articles: the same articles, tags, entities, stories and alerts as
storing them one at a time, in one transaction; idempotent, and an article twice in a batch is
stored once. On SQLite and on PostgreSQL."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import delete, func, select

from alert_service import story_store
from alert_service.grouping import GroupingSettings
from alert_service.models import (
    Alert,
    AlertArticle,
    Article,
    ArticleEntity,
    Story,
    StoryMember,
    Subscription,
    Tag,
)
from alert_service.store import store_batch
from shared.db import dispose_engines, session_scope
from shared.messages import ArticleClassified
from shared.migrations import upgrade_all
from tests.alert.helpers import NOW, add_subscription, load_fixture
from tests.alert.test_story_store import CRASH, story_message

ROWS: list[dict[str, Any]] = sorted(
    (row for case in load_fixture("stories.json") for row in case["articles"]),
    key=lambda row: datetime.fromisoformat(row["published"]),
)
# Tags given in turn, so rules of different topics match different articles of one story.
TAGGINGS: list[tuple[str, ...]] = [("strikes",), ("strikes", "withdrawal"), ("withdrawal",), ()]
# Grouping with a window of at most three members: the written cases' windows hold more.
BOUNDED = GroupingSettings(window=timedelta(hours=10), most_in_window=3)


@pytest.fixture
def other_database_url(database_url: str, tmp_path: Path, postgres_admin_url: str) -> Iterator[str]:
    """A second migrated database of the same kind as ``database_url``."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'other.db'}"
        upgrade_all(url)
        yield url
        return
    name = f"rasid_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = f"{database_url.rsplit('/', 1)[0]}/{name}"
    upgrade_all(url)
    yield url
    dispose_engines()
    with psycopg.connect(postgres_admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def messages(*, undated: bool) -> list[ArticleClassified]:
    """Every written story case's articles in order of publication, tagged in turn; ``undated``:
    without a publication date, so all are placed at the moment they were ingested, in one window."""
    found = []
    for number, row in enumerate(ROWS):
        message = story_message(row, tags=TAGGINGS[number % len(TAGGINGS)])
        if undated:
            article = message.article.model_copy(update={"published_at": None})
            message = message.model_copy(update={"article": article})
        found.append(message)
    return found


def subscribe_all(url: str) -> None:
    add_subscription(url, "email", "strikes@example.org", ["strikes"])
    add_subscription(url, "webhook", "https://hooks.example.org/withdrawal", ["withdrawal"])
    add_subscription(url, "email", "both@example.org", ["strikes", "withdrawal"])


def stored_batches(url: str, batch: list[ArticleClassified], *, size: int) -> list[int]:
    created = []
    for start in range(0, len(batch), size):
        with session_scope(url) as session:
            created += store_batch(session, batch[start : start + size], now=NOW)
    return created


def stored_reading_every_window(
    url: str, batch: list[ArticleClassified], *, size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reference: ``batch`` stored for all subscribers, each batch reading its window whole."""
    subscribe_all(url)
    with monkeypatch.context() as reading_every_window:
        reading_every_window.setattr(story_store, "_keeps_window", lambda session: False)
        stored_batches(url, batch, size=size)


def snapshot(url: str) -> dict[str, Any]:
    """What was stored, without the ids the database chose: stories as sets of their articles,
    alerts by subscriber and article with the articles recorded against them."""
    with session_scope(url) as session:
        members = session.execute(select(StoryMember.article_id, StoryMember.story_id)).all()
        story_of = dict(members)
        stories: dict[int, set[str]] = {}
        for article_id, story_id in members:
            stories.setdefault(story_id, set()).add(article_id)
        targets = dict(session.execute(select(Subscription.id, Subscription.target)).all())
        alerts = session.execute(
            select(Alert.id, Alert.subscription_id, Alert.article_id, Alert.story_id)
        ).all()
        recorded = session.execute(select(AlertArticle.alert_id, AlertArticle.article_id)).all()
        first_of = {alert_id: article_id for alert_id, _, article_id, _ in alerts}
        return {
            "articles": set(session.execute(select(Article.id, Article.title, Article.published_at)).all()),
            "tags": set(
                session.execute(select(Tag.article_id, Tag.topic, Tag.score, Tag.classifier_version)).all()
            ),
            "entities": set(session.execute(select(ArticleEntity.article_id, ArticleEntity.entity_id)).all()),
            "stories": {frozenset(group) for group in stories.values()},
            "story count": session.execute(select(func.count()).select_from(Story)).scalar_one(),
            "alerts": {
                (targets[subscription_id], article_id, frozenset(stories[story_id]))
                for _, subscription_id, article_id, story_id in alerts
                if story_id == story_of[article_id]
            },
            "alert count": len(alerts),
            "recorded": {(first_of[alert_id], article_id) for alert_id, article_id in recorded},
        }


@pytest.mark.parametrize("undated", [False, True], ids=["as-written", "one-window"])
@pytest.mark.parametrize("size", [len(ROWS), 4])
def test_a_batch_stores_what_one_at_a_time_stores(
    database_url: str, other_database_url: str, undated: bool, size: int
) -> None:
    batch = messages(undated=undated)
    subscribe_all(database_url)
    subscribe_all(other_database_url)
    one_by_one = stored_batches(database_url, batch, size=1)
    together = stored_batches(other_database_url, batch, size=size)
    expected, got = snapshot(database_url), snapshot(other_database_url)
    assert got == expected
    assert len(together) == len(one_by_one) == expected["alert count"] > 0
    assert expected["recorded"], "later articles of a story are recorded against its alert"
    assert len(expected["stories"]) < len(ROWS), "some articles share a story"


def test_the_same_batch_twice_stores_nothing_new(database_url: str) -> None:
    batch = messages(undated=False)
    subscribe_all(database_url)
    first = stored_batches(database_url, batch, size=len(batch))
    before = snapshot(database_url)
    assert stored_batches(database_url, batch, size=len(batch)) == []
    assert first and snapshot(database_url) == before


def test_an_article_twice_in_a_batch_is_stored_once(database_url: str, other_database_url: str) -> None:
    batch = messages(undated=False)[:6]
    subscribe_all(database_url)
    subscribe_all(other_database_url)
    stored_batches(database_url, batch, size=len(batch))
    stored_batches(other_database_url, [batch[0], *batch, batch[3]], size=len(batch) + 2)
    assert snapshot(other_database_url) == snapshot(database_url)


def test_one_story_in_one_batch_alerts_each_subscriber_once(database_url: str) -> None:
    """Three outlets' reports of one crash arrive together: one alert for each subscription, the
    later two reports recorded against it."""
    add_subscription(database_url, "email", "analyst@example.org", ["strikes"])
    add_subscription(database_url, "webhook", "http://127.0.0.1:9/hook", ["strikes"])
    created = stored_batches(database_url, [story_message(row) for row in CRASH], size=len(CRASH))
    with session_scope(database_url) as session:
        alerts = session.execute(select(Alert.article_id).where(Alert.id.in_(created))).scalars().all()
        recorded = session.execute(select(func.count()).select_from(AlertArticle)).scalar_one()
        stories = session.execute(select(func.count()).select_from(Story)).scalar_one()
    assert alerts == [story_message(CRASH[0]).article.article_id] * 2
    assert (recorded, stories) == (4, 1)


def test_concurrent_batches_put_one_event_in_one_story(fresh_postgres_url: str) -> None:
    """Three workers each store a batch of two reports of one event at the same moment, one of them
    a report another batch holds too: one story, one alert, the other reports recorded against it."""
    upgrade_all(fresh_postgres_url)
    add_subscription(fresh_postgres_url, "email", "analyst@example.org", ["strikes"])
    reports = [story_message(row) for row in CRASH]
    batches = [[reports[0], reports[1]], [reports[1], reports[2]], [reports[2], reports[0]]]
    start = threading.Barrier(len(batches))
    created: list[list[int]] = []
    errors: list[BaseException] = []

    def worker(batch: list[ArticleClassified]) -> None:
        try:
            start.wait()
            with session_scope(fresh_postgres_url) as session:
                created.append(store_batch(session, batch, now=NOW))
        except BaseException as error:  # reported below: a thread's exception is otherwise lost
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(len(ids) for ids in created) == [0, 0, 1]
    snapshot_of = snapshot(fresh_postgres_url)
    assert len(snapshot_of["stories"]) == 1
    assert (snapshot_of["alert count"], len(snapshot_of["recorded"])) == (1, 2)


def test_workers_taking_turns_store_what_one_worker_stores(
    database_url: str, other_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers, each keeping its own story window (on PostgreSQL), store batches in turn, one of
    the first worker's batches rolled back and stored again by the second: the same stories and
    alerts as one worker storing the articles one at a time, reading each batch's window whole."""
    batch = messages(undated=True)
    subscribe_all(database_url)
    stored_reading_every_window(other_database_url, batch, size=1, monkeypatch=monkeypatch)
    workers = [story_store.KeptWindows(), story_store.KeptWindows()]
    for number, start in enumerate(range(0, len(batch), 3)):
        monkeypatch.setattr(story_store, "_KEPT", workers[number % 2])
        if number == 2:
            with pytest.raises(RuntimeError), session_scope(database_url) as session:
                store_batch(session, batch[start : start + 3], now=NOW)
                raise RuntimeError("rolled back")
            monkeypatch.setattr(story_store, "_KEPT", workers[1])
        with session_scope(database_url) as session:
            store_batch(session, batch[start : start + 3], now=NOW)
    assert snapshot(database_url) == snapshot(other_database_url)


def test_a_worker_keeps_the_members_it_placed_and_drops_those_of_a_batch_rolled_back(
    database_url: str, other_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker keeping its window keeps each batch's members under the stories they were stored in
    (none taken out to be read back), and takes out only those of a batch rolled back, which it then
    stores again: the same stories and alerts as each batch reading its window whole."""
    batch = messages(undated=True)
    subscribe_all(database_url)
    stored_reading_every_window(other_database_url, batch, size=3, monkeypatch=monkeypatch)
    monkeypatch.setattr(story_store, "_KEPT", story_store.KeptWindows())
    removed: list[str] = []
    remove = story_store.StoryWindow.remove

    def counted_remove(window: story_store.StoryWindow, story_id: int, member: Any) -> None:
        removed.append(member.article_id)
        remove(window, story_id, member)

    monkeypatch.setattr(story_store.StoryWindow, "remove", counted_remove)
    rolled_back = batch[3:6]
    for start in range(0, len(batch), 3):
        if start == 3:
            with pytest.raises(RuntimeError), session_scope(database_url) as session:
                store_batch(session, rolled_back, now=NOW)
                raise RuntimeError("rolled back")
        with session_scope(database_url) as session:
            store_batch(session, batch[start : start + 3], now=NOW)
    assert snapshot(database_url) == snapshot(other_database_url)
    if database_url.startswith("postgresql"):
        assert sorted(removed) == sorted(message.article.article_id for message in rolled_back)


def test_a_worker_keeping_its_window_sees_members_deleted_by_others(
    database_url: str, other_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Articles deleted between two batches (their members with them) are gone from the window of the
    next batches, which store them again as when each batch reads its window whole."""
    batch = messages(undated=True)
    half = len(batch) // 2
    monkeypatch.setattr(story_store, "_KEPT", story_store.KeptWindows())
    for url in (database_url, other_database_url):
        if url == other_database_url:
            monkeypatch.setattr(story_store, "_keeps_window", lambda session: False)
        stored_batches(url, batch[:half], size=2)
        ids = [message.article.article_id for message in batch[:half]]
        with session_scope(url) as session:
            session.execute(delete(Article).where(Article.id.in_(ids)))
        stored_batches(url, batch, size=2)
    assert snapshot(database_url) == snapshot(other_database_url)


def test_a_worker_keeping_a_bounded_window_stores_what_reading_every_window_stores(
    database_url: str, other_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that may keep only three members of a window (the written cases' one window holds
    more) reads the windows it cannot keep from the database: the same stories and alerts as each
    batch reading its window whole, and never more than three members kept after a batch."""
    batch = messages(undated=True)
    subscribe_all(database_url)
    stored_reading_every_window(other_database_url, batch, size=2, monkeypatch=monkeypatch)
    kept = story_store.KeptWindows(most=3)
    monkeypatch.setattr(story_store, "_KEPT", kept)
    held = []
    for start in range(0, len(batch), 2):
        stored_batches(database_url, batch[start : start + 2], size=2)
        held.append(kept.held)
    assert snapshot(database_url) == snapshot(other_database_url)
    assert max(held) <= 3
    if database_url.startswith("postgresql"):
        # The second batch's window (the first batch's members) fit and was kept; the last did not.
        assert held[1] > 0
        assert held[-1] == 0


def test_a_bounded_window_and_profile_cache_see_members_deleted_by_others(
    database_url: str, other_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker keeping at most eight members and two profiles, some of whose kept members are
    deleted between batches, stores what each batch reading its window whole stores: no member
    missed as its window crosses the bound either way, none kept once deleted."""
    batch = messages(undated=True)
    half = len(batch) // 2
    kept = story_store.KeptWindows(most=8)
    held = []
    for url in (database_url, other_database_url):
        monkeypatch.setattr(story_store, "_KEPT", kept)
        monkeypatch.setattr(story_store, "_CACHE", story_store.ProfileCache(size=2))
        if url == other_database_url:
            monkeypatch.setattr(story_store, "_keeps_window", lambda session: False)
        stored_batches(url, batch[:half], size=2)
        # Every other article deleted: some kept members go, the count of the span changes.
        ids = [message.article.article_id for message in batch[:half:2]]
        with session_scope(url) as session:
            session.execute(delete(Article).where(Article.id.in_(ids)))
        for start in range(0, len(batch), 3):
            stored_batches(url, batch[start : start + 3], size=3)
            if url == database_url:
                held.append(kept.held)
    assert snapshot(database_url) == snapshot(other_database_url)
    if database_url.startswith("postgresql"):
        assert 0 in held and max(held) > 0  # kept, then too many to keep


@pytest.mark.parametrize("size", [2, 5])
def test_dated_articles_out_of_order_are_placed_alike_whatever_the_batches(
    database_url: str, other_database_url: str, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    """The written cases in no order of publication, with a window of at most three members: stored
    in batches (the store worker keeping its window on PostgreSQL) they fall into the stories that
    storing them one at a time, each reading its window, gives."""
    order = random.Random(5).sample(range(len(messages(undated=False))), k=len(messages(undated=False)))
    batch = [messages(undated=False)[position] for position in order]
    with monkeypatch.context() as reading_every_window:
        reading_every_window.setattr(story_store, "_keeps_window", lambda session: False)
        _stored_bounded(other_database_url, batch, size=1)
    monkeypatch.setattr(story_store, "_KEPT", story_store.KeptWindows())
    _stored_bounded(database_url, batch, size=size)
    assert snapshot(database_url)["stories"] == snapshot(other_database_url)["stories"]


def _stored_bounded(url: str, batch: list[ArticleClassified], *, size: int) -> None:
    """``batch`` stored in batches of ``size``, grouped with a window of at most three members."""
    for start in range(0, len(batch), size):
        with session_scope(url) as session:
            store_batch(session, batch[start : start + size], now=NOW, grouping=BOUNDED)
