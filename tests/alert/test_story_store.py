"""Stories in the database: one alert per subscription and story, later articles recorded against it,
assignment idempotent and serialized between concurrent store workers (PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from alert_service.models import Alert, AlertArticle, Story, StoryMember
from alert_service.reports import alert_records
from alert_service.store import store_classified
from shared.db import session_scope
from shared.messages import ArticleClassified
from tests.alert.helpers import NOW, add_subscription, load_fixture, store

CRASH: list[dict[str, Any]] = load_fixture("stories.json")[0]["articles"]
GHOUTA: dict[str, Any] = load_fixture("stories.json")[1]["articles"][0]


def story_message(row: dict[str, Any], *, tags: tuple[str, ...] = ("strikes",)) -> ArticleClassified:
    """A classified article with the written case's title, text, outlet and time."""
    payload = load_fixture("classified_article.json")
    payload["article"].update(
        article_id=f"{row['id']:0<32}",
        title=row["title"],
        text=row["text"],
        source=row["source"],
        published_at=row["published"],
    )
    payload["classification"].update(
        tags=list(tags), scores={tag: 0.9 for tag in tags}, evidence=[], entities=[]
    )
    return ArticleClassified.from_payload(payload)


def _count(url: str, model: type[object]) -> int:
    with session_scope(url) as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def _stories(url: str) -> dict[str, int]:
    with session_scope(url) as session:
        rows = session.execute(select(StoryMember.article_id, StoryMember.story_id)).all()
        return {article_id: story_id for article_id, story_id in rows}


def test_three_outlets_reporting_one_event_give_one_alert_per_subscription(database_url: str) -> None:
    email = add_subscription(database_url, "email", "analyst@example.org", ["strikes"])
    webhook = add_subscription(database_url, "webhook", "http://127.0.0.1:9/hook", ["strikes"])
    created = [store(database_url, story_message(row)) for row in CRASH]
    assert [len(ids) for ids in created] == [2, 0, 0]
    assert len(set(_stories(database_url).values())) == 1
    with session_scope(database_url) as session:
        records = alert_records(session, created[0])
    assert [record.alert.subscription_id for record in records] == [email.id, webhook.id]
    for record in records:
        assert record.outlets == ["skynews", "france24", "bbc"]
        assert record.also_reported_by == ["france24", "bbc"]
    assert _count(database_url, AlertArticle) == 4


def test_a_different_event_alerts_again(database_url: str) -> None:
    add_subscription(database_url, "email", "analyst@example.org", ["strikes"])
    first = store(database_url, story_message(CRASH[0]))
    other = store(database_url, story_message(GHOUTA))
    assert len(first) == 1 and len(other) == 1
    assert _count(database_url, Story) == 2


def test_a_later_article_that_does_not_match_is_grouped_but_not_recorded(database_url: str) -> None:
    add_subscription(database_url, "email", "analyst@example.org", ["strikes"])
    store(database_url, story_message(CRASH[0]))
    assert store(database_url, story_message(CRASH[1], tags=("withdrawal",))) == []
    assert len(set(_stories(database_url).values())) == 1
    assert _count(database_url, AlertArticle) == 0


def test_storing_an_article_twice_keeps_its_story_and_records_it_once(database_url: str) -> None:
    add_subscription(database_url, "email", "analyst@example.org", ["strikes"])
    for row in CRASH:
        store(database_url, story_message(row))
    before = _stories(database_url)
    for row in reversed(CRASH):
        assert store(database_url, story_message(row)) == []
    assert _stories(database_url) == before
    assert (_count(database_url, Story), _count(database_url, Alert), _count(database_url, AlertArticle)) == (
        1,
        1,
        2,
    )


def test_concurrent_store_workers_put_one_event_in_one_story(fresh_postgres_url: str) -> None:
    """Six workers store six reports of one event at the same moment: without the assignment lock each
    would see no story yet and start its own."""
    from shared.migrations import upgrade_all

    upgrade_all(fresh_postgres_url)
    add_subscription(fresh_postgres_url, "email", "analyst@example.org", ["strikes"])
    rows = [{**row, "id": f"{row['id']}-{copy}"} for copy in range(2) for row in CRASH]
    start = threading.Barrier(len(rows))
    created: list[list[int]] = []
    errors: list[BaseException] = []

    def worker(row: dict[str, Any]) -> None:
        try:
            start.wait()
            with session_scope(fresh_postgres_url) as session:
                created.append(store_classified(session, story_message(row), now=NOW))
        except BaseException as error:  # reported below: a thread's exception is otherwise lost
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(row,)) for row in rows]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(_stories(fresh_postgres_url).values())) == 1
    assert sorted(len(ids) for ids in created) == [0, 0, 0, 0, 0, 1]
    assert (_count(fresh_postgres_url, Alert), _count(fresh_postgres_url, AlertArticle)) == (1, 5)


def test_an_article_without_a_publication_date_is_placed_when_it_was_ingested(database_url: str) -> None:
    message = story_message(CRASH[0])
    undated = message.model_copy(
        update={"article": message.article.model_copy(update={"published_at": None})}
    )
    store(database_url, undated)
    with session_scope(database_url) as session:
        member = session.execute(select(StoryMember)).scalar_one()
    assert member.published_at == datetime.fromisoformat("2026-11-20T03:00:00+00:00")


def test_the_pipeline_groups_as_rasid_stories_does(database_url: str) -> None:
    """Every written case, stored one article after another, falls into the stories the in-memory
    index gives (the same decisions on members read back from the database)."""
    from alert_service.store import story_article
    from alert_service.stories import StoryIndex

    rows = [row for case in load_fixture("stories.json") for row in case["articles"]]
    rows.sort(key=lambda row: datetime.fromisoformat(row["published"]))
    index = StoryIndex()
    expected: dict[str, int] = {}
    for row in rows:
        message = story_message(row)
        store(database_url, message)
        expected[message.article.article_id] = index.add(story_article(message.article))
    stored = _stories(database_url)
    assert _partition(stored) == _partition(expected)
    assert len(set(stored.values())) < len(rows)


def _partition(groups: dict[str, int]) -> set[frozenset[str]]:
    stories: dict[int, set[str]] = {}
    for article_id, story in groups.items():
        stories.setdefault(story, set()).add(article_id)
    return {frozenset(members) for members in stories.values()}


def test_a_member_s_profile_is_stored_as_its_json_and_read_back_alike(database_url: str) -> None:
    """The profile text written before the story lock is taken is what the JSON column held when the
    driver wrote the profile itself: the same JSON, read back into the same profile."""
    import json

    from sqlalchemy import String, cast

    from alert_service.grouping import GroupingSettings
    from alert_service.store import story_article
    from alert_service.stories import Profile, default_idf, profile

    message = story_message(CRASH[0])
    store(database_url, message)
    made = profile(story_article(message.article), idf=default_idf(), settings=GroupingSettings())
    with session_scope(database_url) as session:
        member = session.execute(select(StoryMember)).scalar_one()
        text = session.execute(select(cast(StoryMember.profile, String))).scalar_one()
    assert text == json.dumps(made.to_json())
    assert member.profile == made.to_json()
    read = Profile.from_json(
        member.article_id, source=member.source, published=member.published_at, data=member.profile
    )
    assert (read.vector, read.title_vector, read.places) == (made.vector, made.title_vector, made.places)


def test_the_members_read_are_held_by_their_profiles_own_article_ids(database_url: str) -> None:
    """The window's members are keyed by the very id their profile holds, not by the row's copy of it:
    a window of thousands would hold each id twice."""
    from alert_service.story_store import ProfileCache, _with_profiles

    for row in CRASH:
        store(database_url, story_message(row))
    with session_scope(database_url) as session:
        rows = [
            ("".join(article_id), story_id)
            for article_id, story_id in session.execute(select(StoryMember.article_id, StoryMember.story_id))
        ]
        held = _with_profiles(session, rows, cache=ProfileCache(10))
    assert sorted(held) == sorted(article_id for article_id, _ in rows)
    for article_id, (story_id, member) in held.items():
        assert article_id is member.article_id
        assert story_id == dict(rows)[article_id]


def test_grouping_reads_an_article_s_time_in_utc_as_members_are_read_back() -> None:
    """A message's time, at any offset, is grouped as the same instant in UTC's own tzinfo, the one
    members read back from the database have; an undated article's ingest time too."""
    from datetime import UTC

    from alert_service.store import story_article

    message = story_message({**CRASH[0], "published": "2026-11-20T06:00:00+03:00"})
    grouped = story_article(message.article).published
    assert grouped == datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
    assert grouped.tzinfo is UTC
    undated = message.article.model_copy(update={"published_at": None})
    assert story_article(undated).published.tzinfo is UTC
    assert story_article(undated).published == undated.ingested_at
