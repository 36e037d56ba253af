"""The story window bounded by count as well as by time (GroupingSettings.most_in_window): an article
is compared with the latest members within its window, the same in memory (StoryIndex) and in the
store, whatever the batches, and for dated articles arriving out of order too."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import cast

import pytest
from sqlalchemy.orm import Session

from alert_service import story_store
from alert_service.grouping import GroupingSettings
from alert_service.settings import AlertSettings
from alert_service.store import store_batch, story_article
from alert_service.stories import Profile, StoryIndex, choose_story, in_order, window_start
from alert_service.story_store import StoryWindow
from shared.db import session_scope
from shared.messages import MAX_BATCH, ArticleClassified
from shared.settings import ConfigurationError, load_settings
from tests.alert.helpers import NOW
from tests.alert.test_store_batch import messages, snapshot
from tests.alert.test_story_window import with_copies

MOMENT = datetime(2018, 5, 1, 12, tzinfo=UTC)
BOUNDED = GroupingSettings(window=timedelta(hours=10), most_in_window=3)


def _at(hours: float, article_id: str) -> tuple[datetime, str]:
    return (MOMENT + timedelta(hours=hours), article_id)


@pytest.mark.parametrize(
    ("held", "hours", "start"),
    [
        # Fewer than three within the window: the window's own start.
        ([], 0, _at(-10, "")),
        ([_at(-12, "a"), _at(-1, "b"), _at(0, "c")], 0, _at(-10, "")),
        # More: the third latest within the window, members past its end not counted.
        ([_at(-9, "a"), _at(-5, "b"), _at(-2, "c"), _at(-1, "d")], 0, _at(-5, "b")),
        ([_at(-9, "a"), _at(-5, "b"), _at(-2, "c"), _at(-1, "d"), _at(11, "e")], 0, _at(-5, "b")),
        # An article arriving after later ones: the latest within its window, later than it too.
        ([_at(-9, "a"), _at(-5, "b"), _at(-4, "c"), _at(4, "d"), _at(9, "e")], -3, _at(-5, "b")),
        ([_at(-12, "a"), _at(-5, "b"), _at(2, "c"), _at(4, "d"), _at(6, "e"), _at(8, "f")], -3, _at(2, "c")),
        # Members published at one moment: the article ids decide.
        ([_at(0, "a"), _at(0, "b"), _at(0, "c"), _at(0, "d")], 0, _at(0, "b")),
    ],
)
def test_an_article_s_window_begins_at_its_latest_members(
    held: list[tuple[datetime, str]], hours: float, start: tuple[datetime, str]
) -> None:
    assert window_start(MOMENT + timedelta(hours=hours), held, settings=BOUNDED) == start


def _shuffled_arrivals() -> list[Profile]:
    """The written cases' articles and two later copies of each, in an order that is not theirs of
    publication (a feed's late items, an import of dated lines in any order)."""
    arrivals = with_copies(BOUNDED, timedelta(hours=3))
    random.Random(11).shuffle(arrivals)
    return arrivals


def test_a_window_offers_an_article_arriving_out_of_order_its_latest_members_alone() -> None:
    """Articles placed in no order of publication, in one story window: at every arrival the
    candidates hold exactly the members of the definition (the three latest within its window of
    those placed before), and the same as a window holding those members alone offers."""
    window = StoryWindow(BOUNDED, [], indexed=True)
    placed: list[tuple[int, Profile]] = []
    bound = 0
    for number, new in enumerate(_shuffled_arrivals()):
        within = sorted(
            (member for _, member in placed if abs(member.published - new.published) <= BOUNDED.window),
            key=in_order,
        )
        latest = {member.article_id for member in within[-BOUNDED.most_in_window :]}
        bound += len(within) > BOUNDED.most_in_window
        offered = window.candidates(new)
        members = {
            member.article_id
            for story in offered
            for member in story.members
            if not new.keys.isdisjoint(member.key_terms)
        }
        assert members == {
            article_id
            for article_id in latest
            if not new.keys.isdisjoint(
                next(member for _, member in placed if member.article_id == article_id).key_terms
            )
        }
        alone = StoryWindow(
            BOUNDED,
            [(story_id, member) for story_id, member in placed if member.article_id in latest],
            indexed=False,
        )
        chosen = choose_story(new, offered, settings=BOUNDED)
        assert chosen == choose_story(new, alone.candidates(new), settings=BOUNDED)
        story_id = number + 1000 if chosen is None else chosen
        window.add(story_id, new)
        placed.append((story_id, new))
    assert bound > 0


@pytest.mark.parametrize("undated", [False, True], ids=["dated", "one-moment"])
def test_the_store_groups_as_the_index_does_past_the_bound(
    database_url: str, monkeypatch: pytest.MonkeyPatch, undated: bool
) -> None:
    """The written cases in order of publication (or undated, all placed at one ingest moment),
    stored in batches of four with a window of at most three members, the store worker keeping its
    window (on PostgreSQL): the stories StoryIndex gives, which holds no more than four at once; the
    worker keeps no more than the three latest members between batches."""
    kept = story_store.KeptWindows()
    monkeypatch.setattr(story_store, "_KEPT", kept)
    batch = messages(undated=undated)
    kept_between = []
    for start in range(0, len(batch), 4):
        _store(database_url, batch[start : start + 4], size=4)
        kept_between.append(kept.held)
    assert max(kept_between) <= BOUNDED.most_in_window
    if database_url.startswith("postgresql"):
        assert max(kept_between) > 0
    index = StoryIndex(settings=BOUNDED)
    expected: dict[str, int] = {}
    held = []
    for message in batch:
        expected[message.article.article_id] = index.add(story_article(message.article))
        held.append(index.held)
    # The bound is reached (without it 13 dated articles are held at once, 19 undated).
    assert max(held) == BOUNDED.most_in_window + 1
    stories: dict[int, set[str]] = {}
    for article_id, story_id in expected.items():
        stories.setdefault(story_id, set()).add(article_id)
    assert snapshot(database_url)["stories"] == {frozenset(group) for group in stories.values()}


def _store(url: str, batch: list[ArticleClassified], *, size: int) -> None:
    """``batch`` stored in batches of ``size``, grouped with a window of at most three members."""
    for start in range(0, len(batch), size):
        with session_scope(url) as session:
            store_batch(session, batch[start : start + size], now=NOW, grouping=BOUNDED)


def test_the_bound_is_read_from_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASID_STORY_WINDOW_MEMBERS", "2500")
    assert load_settings(AlertSettings).grouping.most_in_window == 2500
    monkeypatch.delenv("RASID_STORY_WINDOW_MEMBERS")
    assert load_settings(AlertSettings).grouping == replace(
        load_settings(AlertSettings).grouping, most_in_window=GroupingSettings().most_in_window
    )


@pytest.mark.parametrize("value", ["0", "-5", "many"])
def test_a_bound_below_one_stops_startup_naming_its_variable(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("RASID_STORY_WINDOW_MEMBERS", value)
    with pytest.raises(ConfigurationError, match="RASID_STORY_WINDOW_MEMBERS"):
        load_settings(AlertSettings)


def test_the_profile_cache_keeps_what_the_largest_window_used_holds() -> None:
    """As many profiles as a window of the largest bound used holds and a batch's arrivals; a size
    given stays."""
    cache, given = story_store.ProfileCache(), story_store.ProfileCache(size=2)
    for settings in (BOUNDED, GroupingSettings(most_in_window=40), BOUNDED):
        cache.fit(settings)
        given.fit(settings)
    for number in range(40 + MAX_BATCH + 5):
        member = cast(Profile, SimpleNamespace(article_id=f"a{number}"))
        cache.put(member)
        given.put(member)
    assert (len(cache), len(given)) == (40 + MAX_BATCH, 2)
    assert cache.get("a4") is None and cache.get("a5") is not None


def test_a_window_read_whole_for_every_batch_reads_no_profile_placed_by_its_process(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window read whole for each batch (as on SQLite) takes the profiles of the members its
    process placed from the profile cache, which follows the window's bound."""
    read: list[str] = []
    reading = story_store._read_profiles

    def counted(session: Session, article_ids: list[str]) -> Iterator[Profile]:
        read.extend(article_ids)
        return iter(reading(session, article_ids))

    monkeypatch.setattr(story_store, "_CACHE", story_store.ProfileCache())
    monkeypatch.setattr(story_store, "_keeps_window", lambda session: False)
    monkeypatch.setattr(story_store, "_read_profiles", counted)
    _store(database_url, messages(undated=True), size=4)
    assert read == []
