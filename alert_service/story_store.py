"""Placing a stored article in a story, in the database, as :class:`alert_service.stories.StoryIndex`
places it in memory.

Assignment is serialized: on PostgreSQL a transaction-scoped advisory lock is taken before the
candidates are read and held until the caller commits, so two store workers cannot both start a story
for one event, or each join a different one; SQLite has one writer at a time. It is idempotent: an
article already placed keeps its story.

A member's profile and story never change once written, so each process keeps the profiles it has
read (:class:`ProfileCache`) and reads from the database only those of members it has not seen: a
worker storing a stream of articles reads each member's profile once, not once per arriving article.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from alert_service.models import Story, StoryMember
from alert_service.stories import (
    GroupingSettings,
    IdfTable,
    Profile,
    StoryArticle,
    StoryCandidate,
    candidates_of,
    choose_story,
    default_idf,
    profile,
)

# Any fixed 64-bit number: the advisory lock that serializes story assignment.
STORY_LOCK_KEY = 0x7261736964_5354


def lock_stories(session: Session) -> None:
    """Hold the story-assignment lock until the transaction ends (PostgreSQL; SQLite needs none)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": STORY_LOCK_KEY})


def story_of(session: Session, article_id: str) -> int | None:
    """The story an article was placed in, if it was."""
    return session.execute(select(StoryMember.story_id).where(StoryMember.article_id == article_id)).scalar()


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


def candidates(
    session: Session, published: datetime, *, settings: GroupingSettings, cache: ProfileCache = _CACHE
) -> list[StoryCandidate]:
    """The stories of the grouped articles within the window either side of ``published``."""
    rows = session.execute(
        select(StoryMember.article_id, StoryMember.story_id).where(
            StoryMember.published_at >= published - settings.window,
            StoryMember.published_at <= published + settings.window,
        )
    ).all()
    missing = [article_id for article_id, _ in rows if cache.get(article_id) is None]
    for profile_read in _read_profiles(session, missing):
        cache.put(profile_read)
    found = ((story_id, cache.get(article_id)) for article_id, story_id in rows)
    return candidates_of((story_id, item) for story_id, item in found if item is not None)


def _read_profiles(session: Session, article_ids: list[str]) -> Iterable[Profile]:
    for start in range(0, len(article_ids), 500):
        rows = session.execute(
            select(StoryMember).where(StoryMember.article_id.in_(article_ids[start : start + 500]))
        ).scalars()
        for row in rows:
            yield Profile.from_json(
                row.article_id, source=row.source, published=row.published_at, data=row.profile
            )


def assign_story(
    session: Session,
    article: StoryArticle,
    *,
    now: datetime,
    settings: GroupingSettings | None = None,
    idf: IdfTable | None = None,
) -> int:
    """The story ``article`` (already stored) joins or starts; the same article again gets the same one."""
    settings = settings or GroupingSettings()
    lock_stories(session)
    known = story_of(session, article.id)
    if known is not None:
        return known
    new = profile(article, idf=idf or default_idf(), settings=settings)
    story_id = choose_story(new, candidates(session, article.published, settings=settings), settings=settings)
    if story_id is None:
        story = Story(first_article_id=article.id, created_at=now)
        session.add(story)
        session.flush()
        story_id = story.id
    session.add(
        StoryMember(
            article_id=article.id,
            story_id=story_id,
            source=article.source,
            published_at=article.published,
            profile=new.to_json(),
            grouped_at=now,
        )
    )
    session.flush()
    return story_id
