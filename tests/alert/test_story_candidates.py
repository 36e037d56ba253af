"""How many stories an arriving article is compared with: every story sharing a key term while they
are few; past MOST_CANDIDATES those sharing the most and the rarest key terms, alike in memory
(StoryIndex) and in a store worker's window (StoryWindow)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alert_service.grouping import GroupingSettings
from alert_service.stories import MOST_CANDIDATES, Profile, StoryIndex, story_ids_sharing
from alert_service.story_store import StoryWindow

MOMENT = datetime(2018, 5, 1, 12, tzinfo=UTC)


def test_few_stories_sharing_a_key_term_are_all_given_in_order_of_id() -> None:
    postings = {"a": {3, 1}, "b": {2}, "c": set()}
    assert story_ids_sharing(["a", "b", "c", "d"], lambda term: postings.get(term, set()), most=5) == [
        1,
        2,
        3,
    ]


def test_past_the_most_stories_sharing_rare_and_several_key_terms_come_first() -> None:
    """Eight stories share a common term, seven of them a second one as common, story 2 a term only
    it has: the rare term weighs more than a second common one, and of equal ones the later story
    comes first."""
    postings = {"common": set(range(1, 9)), "other": {1, 3, 4, 5, 6, 7, 8}, "rare": {2}}
    ranked = story_ids_sharing(["common", "other", "rare"], lambda term: postings.get(term, set()), most=3)
    assert ranked[:2] == [2, 8]
    assert sorted(ranked) == list(range(1, 9))


@pytest.mark.parametrize("common_stories", [MOST_CANDIDATES - 1, 3 * MOST_CANDIDATES])
def test_an_index_and_a_window_offer_the_same_stories(common_stories: int) -> None:
    """Stories of one member sharing a common key term with an arrival, one sharing a rare one: both
    find the same stories, the rare one among them, at most MOST_CANDIDATES."""
    settings = GroupingSettings()
    members = [
        _profile(f"m{number}", {"common": 0.6, f"own{number}": 0.8}) for number in range(common_stories)
    ]
    members.append(_profile("rare-member", {"rare": 0.6, "other": 0.8}))
    index = StoryIndex(settings=settings)
    for member in members:
        index._remember(member, index._next_story)
        index._next_story += 1
    window = StoryWindow(
        settings, [(number + 1, member) for number, member in enumerate(members)], indexed=True
    )
    arrival = _profile("new", {"common": 0.7, "rare": 0.7})
    from_index = [story.story_id for story in index._candidates(arrival)]
    from_window = [story.story_id for story in window.candidates(arrival)]
    assert from_index == from_window
    assert len(from_index) == min(common_stories + 1, MOST_CANDIDATES)
    assert len(members) in from_index


def _profile(article_id: str, vector: dict[str, float]) -> Profile:
    return Profile(article_id, "outlet", MOMENT, vector, {})
