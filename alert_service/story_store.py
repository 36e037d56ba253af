"""Placing stored articles in stories, in the database, as :class:`alert_service.stories.StoryIndex`
places them in memory.

A batch is placed under one lock, against the members of its window read once: each article of the
batch, in order, is compared with the stories that share one of its key terms (each made of its
members within the window either side of it, the batch's earlier articles included), joins the best
or starts its own, exactly as storing the articles one at a time would place them. The stories and
members the batch adds are inserted with one multi-row statement each.

Assignment is serialized: on PostgreSQL a transaction-scoped advisory lock is taken before the
candidates are read and held until the caller commits, so two store workers cannot both start a story
for one event, or each join a different one; SQLite has one writer at a time. It is idempotent: an
article already placed keeps its story.

A member's profile and story never change once written, so each process keeps the profiles it has
read (:class:`ProfileCache`) and reads from the database only those of members it has not seen: a
worker storing a stream of articles reads each member's profile once, not once per arriving batch.
"""

from __future__ import annotations

import bisect
import sys
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, insert, select, text
from sqlalchemy.orm import Session

from alert_service.models import Story, StoryMember
from alert_service.stories import (
    GroupingSettings,
    IdfTable,
    Profile,
    StoryArticle,
    StoryCandidate,
    choose_story,
    default_idf,
    profile,
)
from shared.db import insert_ignore_many

# Any fixed 64-bit number: the advisory lock that serializes story assignment.
STORY_LOCK_KEY = 0x7261736964_5354
STORIES = cast(Table, Story.__table__)
STORY_MEMBERS = cast(Table, StoryMember.__table__)
# A story a batch starts is numbered from here until it is inserted: above every stored story's id.
_STARTED = 1 << 62
# Sorts after every article id (hexadecimal content ids), so a member published at the window's
# end is inside it.
_AFTER_EVERY_ID = "\U0010ffff"
# From this many arriving articles on, a batch indexes its window's members by key term; fewer look
# at every member, which costs less than the index (measured with benchmarks/store.py).
_INDEX_FROM = 16


def lock_stories(session: Session) -> None:
    """Hold the story-assignment lock until the transaction ends (PostgreSQL; SQLite needs none)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": STORY_LOCK_KEY})


class ProfileCache:
    """The profiles of story members this process has read, the most recently read kept."""

    def __init__(self, size: int = 20_000) -> None:
        self._size = size
        self._profiles: OrderedDict[str, Profile] = OrderedDict()

    def get(self, article_id: str) -> Profile | None:
        """The cached profile of ``article_id``, if it is cached."""
        found = self._profiles.get(article_id)
        if found is not None:
            self._profiles.move_to_end(article_id)
        return found

    def put(self, profile: Profile) -> None:
        """Keep ``profile``, forgetting the least recently read one past the size."""
        self._profiles[profile.article_id] = profile
        self._profiles.move_to_end(profile.article_id)
        while len(self._profiles) > self._size:
            self._profiles.popitem(last=False)


_CACHE = ProfileCache()


def _read_profiles(session: Session, article_ids: list[str]) -> Iterable[Profile]:
    for start in range(0, len(article_ids), 500):
        rows = session.execute(
            select(StoryMember).where(StoryMember.article_id.in_(article_ids[start : start + 500]))
        ).scalars()
        for row in rows:
            data = _with_shared_terms(row.profile)
            yield Profile.from_json(row.article_id, source=row.source, published=row.published_at, data=data)


def _with_shared_terms(data: dict[str, Any]) -> dict[str, Any]:
    """A stored profile whose terms are the process's one copy of each (as the profiles made here
    share them): the cached members of a large window take about half the memory."""
    shared = dict(data)
    for part in ("vector", "title"):
        weights = data.get(part)
        if isinstance(weights, dict):
            shared[part] = {sys.intern(str(term)): weight for term, weight in weights.items()}
    return shared


class StoryWindow:
    """The story members within the window of a batch of arriving articles, each story's members in
    order of publication: an arriving article is compared with the stories that have a member sharing
    one of its key terms (as :class:`StoryIndex` finds them), each made of its members within the
    window either side of that article's publication.

    ``indexed``: the stories are found through an index of the members' key terms, built when the
    window is read; otherwise by looking at every member, which is cheaper for a few arrivals.

    Leaving out the stories that share no key term changes nothing: :func:`choose_story` compares an
    article only with members sharing one (were that to change, :meth:`candidates` must follow).
    """

    def __init__(self, window: timedelta, rows: Iterable[tuple[int, Profile]], *, indexed: bool) -> None:
        self._window = window
        self._members: dict[int, list[Profile]] = {}
        self._all: list[tuple[int, Profile]] = []
        # Key term to the stories with a member having it, a story once per such member (appending
        # is cheaper than a set per term).
        self._by_key: dict[str, list[int]] | None = {} if indexed else None
        self._built: dict[tuple[int, int, int, int], StoryCandidate] = {}
        # Each story's members in order, sorted when the story is first a candidate.
        self._order: dict[int, list[tuple[datetime, str]]] = {}
        for story_id, member in rows:
            self._members.setdefault(story_id, []).append(member)
            self._remember(story_id, member)

    def add(self, story_id: int, member: Profile) -> None:
        """Count ``member``, just placed, in ``story_id``."""
        members = self._members.setdefault(story_id, [])
        order = self._order.get(story_id)
        if order is None:
            members.append(member)
        else:
            position = bisect.bisect_right(order, _in_order(member))
            order.insert(position, _in_order(member))
            members.insert(position, member)
        self._remember(story_id, member)

    def _remember(self, story_id: int, member: Profile) -> None:
        if self._by_key is None:
            self._all.append((story_id, member))
            return
        for term in member.keys:
            stories = self._by_key.get(term)
            if stories is None:
                self._by_key[term] = [story_id]
            else:
                stories.append(story_id)

    def candidates(self, new: Profile) -> list[StoryCandidate]:
        """The stories ``new`` may join: those sharing a key term, with their members in its window."""
        keys = new.keys
        if self._by_key is None:
            story_ids = {story_id for story_id, member in self._all if not keys.isdisjoint(member.keys)}
        else:
            story_ids = set()
            for term in keys:
                story_ids.update(self._by_key.get(term, ()))
        found = (self._candidate(story_id, new.published) for story_id in sorted(story_ids))
        return [candidate for candidate in found if candidate is not None]

    def _candidate(self, story_id: int, published: datetime) -> StoryCandidate | None:
        order = self._order.get(story_id)
        if order is None:
            self._members[story_id].sort(key=_in_order)
            order = self._order[story_id] = [_in_order(member) for member in self._members[story_id]]
        first = bisect.bisect_left(order, (published - self._window, ""))
        last = bisect.bisect_right(order, (published + self._window, _AFTER_EVERY_ID))
        if first == last:
            return None
        # One candidate (and one centroid) for every article that sees the same members of the story.
        key = (story_id, first, last, len(order))
        built = self._built.get(key)
        if built is None:
            built = StoryCandidate(story_id, tuple(self._members[story_id][first:last]))
            self._built[key] = built
        return built


def _in_order(member: Profile) -> tuple[datetime, str]:
    """Where a member stands among its story's: by publication, then id (as candidates_of orders)."""
    return (member.published, member.article_id)


def _window_of(
    session: Session, arriving: Sequence[Profile], *, window: timedelta, cache: ProfileCache
) -> StoryWindow:
    """The members stored within the window either side of the batch's publication times."""
    earliest = min(new.published for new in arriving) - window
    latest = max(new.published for new in arriving) + window
    rows = session.execute(
        select(StoryMember.article_id, StoryMember.story_id).where(
            StoryMember.published_at >= earliest, StoryMember.published_at <= latest
        )
    ).all()
    # Held here for the batch: the cache may forget some of a window larger than it.
    profiles: dict[str, Profile] = {}
    missing = []
    for article_id, _ in rows:
        found = cache.get(article_id)
        if found is None:
            missing.append(article_id)
        else:
            profiles[article_id] = found
    for profile_read in _read_profiles(session, missing):
        cache.put(profile_read)
        profiles[profile_read.article_id] = profile_read
    known = ((story_id, profiles[article_id]) for article_id, story_id in rows if article_id in profiles)
    return StoryWindow(window, known, indexed=len(arriving) >= _INDEX_FROM)


def placed_stories(session: Session, article_ids: Iterable[str]) -> dict[str, int]:
    """The stories of the articles of ``article_ids`` that were placed, by article id."""
    ids = list(article_ids)
    placed: dict[str, int] = {}
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(StoryMember.article_id, StoryMember.story_id).where(
                StoryMember.article_id.in_(ids[start : start + 500])
            )
        )
        placed.update((article_id, story_id) for article_id, story_id in rows)
    return placed


def assign_stories(
    session: Session,
    articles: Sequence[StoryArticle],
    *,
    now: datetime,
    settings: GroupingSettings | None = None,
    idf: IdfTable | None = None,
) -> dict[str, int]:
    """The story each of ``articles`` (already stored) joins or starts, by article id, placed in the
    order given as one at a time would place them; an article already placed keeps its story.

    The articles' profiles are made before the lock is taken (the costly part, which workers do in
    parallel); under the lock the stored members of the batch's window are read once for the batch.
    """
    settings = settings or GroupingSettings()
    idf = idf or default_idf()
    profiles: dict[str, Profile] = {}
    for article in articles:
        if article.id not in profiles:
            profiles[article.id] = profile(article, idf=idf, settings=settings)
    lock_stories(session)
    placed = placed_stories(session, profiles)
    arriving = [new for article_id, new in profiles.items() if article_id not in placed]
    if arriving:
        window = _window_of(session, arriving, window=settings.window, cache=_CACHE)
        placed.update(_store_placed(session, _place(window, arriving, settings=settings), now=now))
    return placed


def _place(
    window: StoryWindow, arriving: list[Profile], *, settings: GroupingSettings
) -> list[tuple[Profile, int]]:
    """The story each arriving article joins, in order; a story started here is numbered from
    ``_STARTED`` in the order started, so ties go to the earlier story as stored ids do."""
    members = []
    started = 0
    for new in arriving:
        story_id = choose_story(new, window.candidates(new), settings=settings)
        if story_id is None:
            story_id, started = _STARTED + started, started + 1
        window.add(story_id, new)
        members.append((new, story_id))
    return members


def _store_placed(session: Session, members: list[tuple[Profile, int]], *, now: datetime) -> dict[str, int]:
    """Insert the stories the batch started and its members; the story of each member, by article id."""
    first_articles: dict[int, str] = {}
    for new, story_id in members:
        if story_id >= _STARTED:
            first_articles.setdefault(story_id, new.article_id)
    story_ids = _store_stories(session, list(first_articles.values()), now=now)
    stored = [(new, story_ids.get(story_id, story_id)) for new, story_id in members]
    _store_members(session, stored, now=now)
    for new, _ in stored:
        _CACHE.put(new)
    return {new.article_id: story_id for new, story_id in stored}


def _store_stories(session: Session, first_article_ids: list[str], *, now: datetime) -> dict[int, int]:
    """Insert the stories started by the batch, in order; their ids by the number each was given."""
    if not first_article_ids:
        return {}
    statement = insert(STORIES).returning(STORIES.c.id, sort_by_parameter_order=True)
    rows = [{"first_article_id": article_id, "created_at": now} for article_id in first_article_ids]
    ids = session.execute(statement, rows).scalars().all()
    return {_STARTED + number: int(story_id) for number, story_id in enumerate(ids)}


def _store_members(session: Session, members: list[tuple[Profile, int]], *, now: datetime) -> None:
    rows = [
        {
            "article_id": member.article_id,
            "story_id": story_id,
            "source": member.source,
            "published_at": member.published,
            "profile": member.to_json(),
            "grouped_at": now,
        }
        for member, story_id in members
    ]
    insert_ignore_many(session, STORY_MEMBERS, rows, conflict_columns=["article_id"])


def assign_story(
    session: Session,
    article: StoryArticle,
    *,
    now: datetime,
    settings: GroupingSettings | None = None,
    idf: IdfTable | None = None,
) -> int:
    """The story ``article`` (already stored) joins or starts; the same article again gets the same one."""
    return assign_stories(session, [article], now=now, settings=settings, idf=idf)[article.id]
