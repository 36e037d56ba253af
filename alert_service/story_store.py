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
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import cast

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
            yield Profile.from_json(
                row.article_id, source=row.source, published=row.published_at, data=row.profile
            )


class StoryWindow:
    """The story members within the window of a batch of arriving articles, each story's members in
    order of publication, and the stories that have a member with each key term: an arriving article
    is compared with the stories that share one of its key terms (as :class:`StoryIndex` finds them),
    each made of its members within the window either side of that article's publication."""

    def __init__(self, window: timedelta) -> None:
        self._window = window
        self._members: dict[int, list[Profile]] = {}
        self._order: dict[int, list[tuple[datetime, str]]] = {}
        # Key term to the stories with a member having it (a story once per member: appending is
        # cheaper than a set per term, and the window is rebuilt for every batch).
        self._by_key: dict[str, list[int]] = {}
        self._built: dict[tuple[int, int, int, int], StoryCandidate] = {}

    def add(self, story_id: int, member: Profile) -> None:
        """Count ``member`` in ``story_id``."""
        order = self._order.setdefault(story_id, [])
        position = bisect.bisect_right(order, (member.published, member.article_id))
        order.insert(position, (member.published, member.article_id))
        self._members.setdefault(story_id, []).insert(position, member)
        by_key = self._by_key
        for term in member.keys:
            stories = by_key.get(term)
            if stories is None:
                by_key[term] = [story_id]
            else:
                stories.append(story_id)

    def candidates(self, new: Profile) -> list[StoryCandidate]:
        """The stories ``new`` may join: those sharing a key term, with their members in its window."""
        story_ids: set[int] = set()
        for term in new.keys:
            story_ids.update(self._by_key.get(term, ()))
        found = (self._candidate(story_id, new.published) for story_id in sorted(story_ids))
        return [candidate for candidate in found if candidate is not None]

    def _candidate(self, story_id: int, published: datetime) -> StoryCandidate | None:
        order = self._order[story_id]
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


def _window_of(
    session: Session, articles: Sequence[StoryArticle], *, window: timedelta, cache: ProfileCache
) -> StoryWindow:
    """The members stored within the window either side of the batch's publication times."""
    earliest = min(article.published for article in articles) - window
    latest = max(article.published for article in articles) + window
    rows = session.execute(
        select(StoryMember.article_id, StoryMember.story_id).where(
            StoryMember.published_at >= earliest, StoryMember.published_at <= latest
        )
    ).all()
    missing = [article_id for article_id, _ in rows if cache.get(article_id) is None]
    for profile_read in _read_profiles(session, missing):
        cache.put(profile_read)
    found = StoryWindow(window)
    for article_id, story_id in rows:
        member = cache.get(article_id)
        if member is not None:
            found.add(story_id, member)
    return found


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

    The lock is taken and the stored members of the batch's window are read once for the batch.
    """
    settings = settings or GroupingSettings()
    lock_stories(session)
    placed = placed_stories(session, (article.id for article in articles))
    arriving: dict[str, StoryArticle] = {}
    for article in articles:
        if article.id not in placed:
            arriving.setdefault(article.id, article)
    if arriving:
        window = _window_of(session, list(arriving.values()), window=settings.window, cache=_CACHE)
        members = _place(window, arriving.values(), settings=settings, idf=idf or default_idf())
        placed.update(_store_placed(session, members, now=now))
    return placed


def _place(
    window: StoryWindow, articles: Iterable[StoryArticle], *, settings: GroupingSettings, idf: IdfTable
) -> list[tuple[Profile, int]]:
    """Each article's profile and the story it joins, in order; a story started here is numbered
    from ``_STARTED`` in the order started, so ties go to the earlier story as stored ids do."""
    members = []
    started = 0
    for article in articles:
        new = profile(article, idf=idf, settings=settings)
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
