"""A story window kept across batches (members added, placed then dropped, forgotten) offers each
arriving article the stories a window read afresh offers, and the same story is chosen."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alert_service import story_store
from alert_service.grouping import GroupingSettings
from alert_service.stories import CENTROID_MEMBERS, INDEXED_MEMBERS, Profile, choose_story
from alert_service.story_store import StoryWindow
from tests.alert.test_stories import _fixture_profiles, _whole_sums


def with_copies(settings: GroupingSettings, apart: timedelta) -> list[Profile]:
    """The fixtures' articles, then two later copies of each, ``apart`` and twice that after it."""
    profiles = _fixture_profiles(settings)
    copies = [
        item.copied(article_id=f"{item.article_id}-{copy}", published=item.published + copy * apart)
        for copy in range(1, 3)
        for item in profiles
    ]
    return [*profiles, *copies]


def _arrivals(settings: GroupingSettings) -> list[Profile]:
    """The fixtures' articles and two later copies of each, in order: stories of many members."""
    arrivals = with_copies(settings, timedelta(hours=5))
    return sorted(arrivals, key=lambda item: (item.published, item.article_id))


@pytest.mark.parametrize("threshold", [0.19, 0.0])
def test_a_kept_window_places_each_article_as_a_window_read_afresh(threshold: float) -> None:
    """Articles placed one by one, the window's oldest members forgotten as time passes and each
    third article's placement dropped and stored again: at every arrival the kept window and one
    built from the held members alone give the same candidates' members and centroids (a large
    story's kept live in the kept window) and the same choice."""
    settings = GroupingSettings(threshold=threshold, window=timedelta(hours=30))
    kept = StoryWindow(settings, [], indexed=True)
    held: dict[str, tuple[int, Profile]] = {}
    large = live = 0
    for number, new in enumerate(_arrivals(settings)):
        for article_id, (story_id, member) in list(held.items()):
            if member.published < new.published - 2 * settings.window:
                kept.remove(story_id, member)
                del held[article_id]
        afresh = StoryWindow(settings, held.values(), indexed=False)
        offered, expected = kept.candidates(new), afresh.candidates(new)
        assert [(story.story_id, story.members) for story in offered] == [
            (story.story_id, story.members) for story in expected
        ]
        for story, same in zip(offered, expected, strict=True):
            live += story.live is not None
            assert story.centroid == same.centroid
            sharing = {member.article_id for member in story.sharing(new.key_terms)}
            assert {member.article_id for member in same.sharing(new.key_terms)} <= sharing
            large += len(story.members) > INDEXED_MEMBERS
        chosen = choose_story(new, offered, settings=settings)
        assert chosen == choose_story(new, expected, settings=settings)
        story_id = number + 1000 if chosen is None else chosen
        kept.add(story_id, new)
        assert kept.take_placed() == [(story_id, new)]
        if number % 3 == 0:
            # Placed, then dropped before the next batch, and read back as a stored member.
            kept.remove(story_id, new)
            kept.include(story_id, new)
        held[new.article_id] = (story_id, new)
    assert kept.held == len(held)
    # At the low threshold the copies make stories large enough to index their members by key term
    # and to keep their centroids live.
    assert (large > 0 and live > 0) or threshold > 0


@pytest.mark.parametrize("few", [1, 2, 64])
def test_a_kept_windows_key_term_index_is_the_one_built_afresh(
    monkeypatch: pytest.MonkeyPatch, few: int
) -> None:
    """Members added, removed and read back, the oldest forgotten: each key term's stories (held as
    one story, a tuple of up to ``few`` or a set) and each large story's members by key term are
    those of a window built from the held members alone."""
    monkeypatch.setattr(story_store, "_FEW_STORIES", few)
    settings = GroupingSettings(threshold=0.0, window=timedelta(hours=30))
    kept = StoryWindow(settings, [], indexed=True)
    held: dict[str, tuple[int, Profile]] = {}
    indexed = 0
    for number, new in enumerate(_arrivals(settings)):
        for article_id, (story_id, member) in list(held.items()):
            if member.published < new.published - 2 * settings.window:
                kept.remove(story_id, member)
                del held[article_id]
        # Candidates index the members of the large stories by key term, kept from then on.
        chosen = choose_story(new, kept.candidates(new), settings=settings)
        story_id = number % 7 if chosen is None else chosen
        kept.add(story_id, new)
        if number % 3 == 0:
            kept.remove(story_id, new)
            kept.include(story_id, new)
        held[new.article_id] = (story_id, new)
        afresh = StoryWindow(settings, held.values(), indexed=True)
        terms = {term for _, member in held.values() for term in member.key_terms}
        assert {term: set(kept._stories_having(term)) for term in terms} == {
            term: set(afresh._stories_having(term)) for term in terms
        }
        assert kept._stories_having("no such term") == ()
        indexed += len(kept._key_members)
        for story_id, key_members in kept._key_members.items():
            members = [member for held_story, member in held.values() if held_story == story_id]
            expected = {
                term: {id(member) for member in members if term in member.key_terms} for term in terms
            }
            found = {
                term: {id(having)} if isinstance(having, Profile) else {id(member) for member in having}
                for term, having in key_members.items()
            }
            assert found == {term: ids for term, ids in expected.items() if ids}
    assert indexed > 0


def test_a_candidate_of_a_large_storys_later_members_sums_its_own() -> None:
    """An article whose window begins after a large story's first members (one arriving after later
    ones) is given a candidate of the members within it: its centroid sums those, not the story's
    latest members that the window keeps live."""
    settings = GroupingSettings(threshold=0.0, window=timedelta(hours=30))
    profiles = _fixture_profiles(settings)
    start = profiles[0].published
    members = [
        item.copied(article_id=f"{item.article_id}-{copy}", published=start + timedelta(hours=number))
        for number, (copy, item) in enumerate((copy, item) for copy in range(2) for item in profiles[:13])
    ]
    window = StoryWindow(settings, [(1, member) for member in members], indexed=True)
    # Published last: a candidate of every member, which makes the story's centroid live.
    latest = members[-1].copied(article_id="latest", published=members[-1].published)
    [whole] = window.candidates(latest)
    assert whole.live is not None and len(whole.members) == len(members)
    assert whole.centroid == _whole_sums(tuple(members[-CENTROID_MEMBERS:]))
    # Published later still: its window begins 30 hours before, past the story's first members.
    later = members[-1].copied(article_id="later", published=members[-1].published + timedelta(hours=20))
    [part] = window.candidates(later)
    assert 0 < len(part.members) < CENTROID_MEMBERS
    assert part.centroid == _whole_sums(part.members)
