"""What the web API reads from the alert service's tables: articles (filtered, searched, a page at a
time in keyset order), one article with everything known about it, subscriptions and alerts with
their attempts. Functions take a session and never commit.

Search matches as watch rule keywords do (:func:`alert_service.rules.find_keyword`): folded, each
word in any written form, so انسحاب finds الانسحاب and إنسحاب.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, exists, or_, select
from sqlalchemy.orm import Session

from alert_service.models import (
    Alert,
    AlertArticle,
    Article,
    ArticleEntity,
    DeliveryAttempt,
    StoryMember,
    Subscription,
    Tag,
)
from alert_service.rules import article_words, find_keyword

# How many stored articles a search reads per round while it fills a page, and at most per page.
SEARCH_BATCH = 500
SEARCH_SCAN = 5000


@dataclass(frozen=True)
class ArticleFilter:
    """Which articles a list shows; every field optional."""

    topic: str | None = None
    entity: str | None = None
    source: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    search: str | None = None
    story: int | None = None


@dataclass(frozen=True)
class StoryArticle:
    """An article of a story, as the story's list shows it."""

    id: str
    title: str
    source: str
    published_at: datetime | None


@dataclass(frozen=True)
class ArticleDetail:
    """One article with its latest tags, its entities, its story (and the story's articles from
    every outlet) and the alerts it caused or was recorded under."""

    article: Article
    tags: list[Tag]
    entities: list[ArticleEntity]
    alerts: list[Alert]
    story_id: int | None
    story: list[StoryArticle]


def _filtered(query: Select[Article], where: ArticleFilter) -> Select[Article]:
    if where.topic:
        query = query.where(exists().where(Tag.article_id == Article.id, Tag.topic == where.topic))
    if where.entity:
        query = query.where(
            exists().where(ArticleEntity.article_id == Article.id, ArticleEntity.entity_id == where.entity)
        )
    if where.story is not None:
        query = query.where(
            exists().where(StoryMember.article_id == Article.id, StoryMember.story_id == where.story)
        )
    if where.source:
        query = query.where(Article.source == where.source)
    if where.since:
        query = query.where(Article.stored_at >= where.since)
    if where.until:
        query = query.where(Article.stored_at < where.until)
    return query


def _after(query: Select[Article], key: Sequence[Any] | None) -> Select[Article]:
    if key is None:
        return query
    stored_at, article_id = key
    return query.where(
        or_(Article.stored_at < stored_at, and_(Article.stored_at == stored_at, Article.id < article_id))
    )


@dataclass(frozen=True)
class ArticlePage:
    """Articles of one page; ``resume_after`` is set when a search stopped reading before the page
    was full (the key of the last article it read: the next page goes on from there)."""

    articles: list[Article]
    resume_after: tuple[datetime, str] | None = None


def article_page(
    session: Session, where: ArticleFilter, *, after: Sequence[Any] | None, limit: int
) -> ArticlePage:
    """Up to ``limit`` articles newest first (stored time, then id), after the key ``after``
    (``(stored_at, id)`` of the last article already shown). A search reads at most
    :data:`SEARCH_SCAN` articles for one page, so a rare word costs a bounded time per page."""
    query = _filtered(select(Article), where).order_by(Article.stored_at.desc(), Article.id.desc())
    if not where.search:
        return ArticlePage(list(session.scalars(_after(query, after).limit(limit))))
    found: list[Article] = []
    key = after
    for _ in range(SEARCH_SCAN // SEARCH_BATCH):
        batch = list(session.scalars(_after(query, key).limit(SEARCH_BATCH)))
        found += [article for article in batch if _mentions(article, where.search)]
        if len(batch) < SEARCH_BATCH:
            return ArticlePage(found[:limit])
        key = (batch[-1].stored_at, batch[-1].id)
        if len(found) >= limit:
            return ArticlePage(found[:limit])
    return ArticlePage(found, resume_after=(key[0], str(key[1])) if key is not None else None)


def _mentions(article: Article, search: str) -> bool:
    return find_keyword(article_words(article.title, article.text), search) is not None


def latest_tags(session: Session, article_ids: Sequence[str]) -> dict[str, list[Tag]]:
    """Each article's tags from the latest classification of each topic, highest score first."""
    rows = session.scalars(select(Tag).where(Tag.article_id.in_(article_ids)).order_by(Tag.id))
    latest: dict[str, dict[str, Tag]] = {}
    for tag in rows:
        latest.setdefault(tag.article_id, {})[tag.topic] = tag
    return {
        article_id: sorted(tags.values(), key=lambda tag: (-tag.score, tag.topic))
        for article_id, tags in latest.items()
    }


def article_detail(session: Session, article_id: str) -> ArticleDetail | None:
    """Everything about one article, or None when it is not stored."""
    article = session.get(Article, article_id)
    if article is None:
        return None
    entities = session.scalars(
        select(ArticleEntity).where(ArticleEntity.article_id == article_id).order_by(ArticleEntity.entity_id)
    )
    recorded = select(AlertArticle.alert_id).where(AlertArticle.article_id == article_id)
    alerts = session.scalars(
        select(Alert).where(or_(Alert.article_id == article_id, Alert.id.in_(recorded))).order_by(Alert.id)
    )
    story_id = session.scalar(select(StoryMember.story_id).where(StoryMember.article_id == article_id))
    return ArticleDetail(
        article=article,
        tags=latest_tags(session, [article_id]).get(article_id, []),
        entities=list(entities),
        alerts=list(alerts),
        story_id=story_id,
        story=story_articles(session, story_id) if story_id is not None else [],
    )


def story_articles(session: Session, story_id: int) -> list[StoryArticle]:
    """The articles of a story from every outlet, in the order they were published."""
    rows = session.execute(
        select(Article.id, Article.title, Article.source, Article.published_at)
        .join(StoryMember, StoryMember.article_id == Article.id)
        .where(StoryMember.story_id == story_id)
        .order_by(StoryMember.published_at, Article.id)
    )
    return [
        StoryArticle(id=row.id, title=row.title, source=row.source, published_at=row.published_at)
        for row in rows
    ]


def subscription_page(session: Session, *, after: int | None, limit: int) -> list[Subscription]:
    """Subscriptions, active or paused (not removed), oldest first, after the id ``after``."""
    query = (
        select(Subscription).where(Subscription.removed_at.is_(None)).order_by(Subscription.id).limit(limit)
    )
    if after is not None:
        query = query.where(Subscription.id > after)
    return list(session.scalars(query))


def alert_page(
    session: Session, *, status: str | None, subscription_id: int | None, after: int | None, limit: int
) -> list[Alert]:
    """Alerts newest first, after the id ``after``, optionally in one status or of one subscription."""
    query = select(Alert).order_by(Alert.id.desc()).limit(limit)
    if status:
        query = query.where(Alert.status == status)
    if subscription_id is not None:
        query = query.where(Alert.subscription_id == subscription_id)
    if after is not None:
        query = query.where(Alert.id < after)
    return list(session.scalars(query))


def get_alert(session: Session, alert_id: int) -> Alert | None:
    """One alert, or None."""
    return session.get(Alert, alert_id)


def attempts_of(session: Session, alert_ids: Sequence[int]) -> dict[int, list[DeliveryAttempt]]:
    """Every delivery attempt of the alerts, by alert id, in order."""
    rows = session.scalars(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.alert_id.in_(alert_ids))
        .order_by(DeliveryAttempt.alert_id, DeliveryAttempt.attempt)
    )
    attempts: dict[int, list[DeliveryAttempt]] = {}
    for attempt in rows:
        attempts.setdefault(attempt.alert_id, []).append(attempt)
    return attempts


def alerted_articles(session: Session, subscription_id: int, *, limit: int) -> list[tuple[Alert, Article]]:
    """The articles a subscription was alerted about, newest alert first, with their alerts."""
    rows = session.execute(
        select(Alert, Article)
        .join(Article, Article.id == Alert.article_id)
        .where(Alert.subscription_id == subscription_id)
        .order_by(Alert.id.desc())
        .limit(limit)
    )
    return [(alert, article) for alert, article in rows]
