"""Placing a stored article in a story, in the database, as :class:`alert_service.stories.StoryIndex`
places it in memory.

Assignment is serialized: on PostgreSQL a transaction-scoped advisory lock is taken before the
candidates are read and held until the caller commits, so two store workers cannot both start a story
for one event, or each join a different one; SQLite has one writer at a time. It is idempotent: an
article already placed keeps its story.
"""

from __future__ import annotations

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


def candidates(session: Session, published: datetime, *, settings: GroupingSettings) -> list[StoryCandidate]:
    """The stories of the grouped articles within the window either side of ``published``."""
    rows = session.execute(
        select(StoryMember).where(
            StoryMember.published_at >= published - settings.window,
            StoryMember.published_at <= published + settings.window,
        )
    ).scalars()
    return candidates_of(
        (
            row.story_id,
            Profile.from_json(
                row.article_id, source=row.source, published=row.published_at, data=row.profile
            ),
        )
        for row in rows
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
