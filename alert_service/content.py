"""What one alert says: the article, its topics with scores, the sentences behind them and the other
outlets of its story known when it is sent.

Loaded once per delivery attempt and rendered by :mod:`alert_service.mail` or
:mod:`alert_service.webhook`; never sent on the broker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session

from alert_service.models import Alert, AlertArticle, Article, Subscription, Tag
from alert_service.rules import WatchRule

ALERTS = cast(Table, Alert.__table__)
ALERT_ARTICLES = cast(Table, AlertArticle.__table__)
ARTICLES = cast(Table, Article.__table__)
SUBSCRIPTIONS = cast(Table, Subscription.__table__)
TAGS = cast(Table, Tag.__table__)


@dataclass(frozen=True)
class TopicScore:
    """One tag of the article."""

    topic: str
    score: float


@dataclass(frozen=True)
class AlertContent:
    """Everything a sender needs to deliver one alert."""

    alert_id: int
    subscription_id: int
    channel: str
    target: str
    secret: str | None
    subscribed_topics: tuple[str, ...]
    article_id: str
    title: str
    source: str
    url: str | None
    published_at: datetime | None
    topics: tuple[TopicScore, ...]
    evidence: tuple[dict[str, Any], ...]
    # Outlets of the story recorded against the alert before this attempt: empty on a first attempt
    # sent at once; a retry, or a story that grew meanwhile, says who else reported it.
    also_reported_by: tuple[str, ...] = ()

    @property
    def matched_topics(self) -> tuple[str, ...]:
        """The article's topics that the subscriber asked for, highest score first."""
        return tuple(item.topic for item in self.topics if item.topic in self.subscribed_topics)

    @property
    def sentences(self) -> tuple[str, ...]:
        """The distinct evidence sentences, in order."""
        return tuple(
            dict.fromkeys(str(item.get("sentence", "")) for item in self.evidence if item.get("sentence"))
        )


def load_content(session: Session, alert_id: int) -> AlertContent:
    """The content of one alert, read in the caller's transaction: the alert with its subscription,
    article and tags in one statement, the story's later outlets in another."""
    rows = session.execute(_ALERT_WITH_TAGS, {"alert_id": alert_id}).all()
    if not rows:
        raise NoResultFound(f"no alert {alert_id} of a subscription and an article")
    first = rows[0]
    tags = _latest(rows) if first.topic is not None else []
    later = session.execute(_LATER_SOURCES, {"alert_id": alert_id}).scalars()
    also = tuple(source for source in dict.fromkeys(later) if source != first.source)
    return AlertContent(
        alert_id=first.id,
        subscription_id=first.subscription_id,
        channel=first.channel,
        target=first.target,
        secret=first.secret,
        subscribed_topics=WatchRule.model_validate(first.rule).topic_names,
        article_id=first.article_id,
        title=first.title,
        source=first.source,
        url=first.url,
        published_at=first.published_at,
        topics=tuple(TopicScore(topic=row.topic, score=row.score) for row in tags),
        evidence=tuple(item for row in tags for item in row.evidence),
        also_reported_by=also,
    )


def _latest(rows: Sequence[Any]) -> list[Any]:
    """The newest tag row of each topic, highest score first, as :func:`latest_tags` orders tags."""
    latest = {row.topic: row for row in rows}
    return sorted(latest.values(), key=lambda row: (-row.score, row.topic))


# Core statements built once, of the columns a sender needs: a delivery runs them for every alert,
# and loading whole ORM rows (the article's text among them) in three queries took as long as the
# send itself.
_ALERT_WITH_TAGS = (
    select(
        ALERTS.c.id,
        ALERTS.c.subscription_id,
        SUBSCRIPTIONS.c.channel,
        SUBSCRIPTIONS.c.target,
        SUBSCRIPTIONS.c.secret,
        SUBSCRIPTIONS.c.rule,
        ARTICLES.c.id.label("article_id"),
        ARTICLES.c.title,
        ARTICLES.c.source,
        ARTICLES.c.url,
        ARTICLES.c.published_at,
        TAGS.c.topic,
        TAGS.c.score,
        TAGS.c.evidence,
    )
    .select_from(
        ALERTS.join(SUBSCRIPTIONS, SUBSCRIPTIONS.c.id == ALERTS.c.subscription_id)
        .join(ARTICLES, ARTICLES.c.id == ALERTS.c.article_id)
        .outerjoin(TAGS, TAGS.c.article_id == ARTICLES.c.id)
    )
    .where(ALERTS.c.id == bindparam("alert_id"))
    # An article re-classified by a newer classifier has tags of both versions: the newest per
    # topic comes last.
    .order_by(TAGS.c.id)
)
# The outlets of the later articles recorded against the alert, in the order they were recorded
# (as alert_service.reports.story_reports orders them).
_LATER_SOURCES = (
    select(ARTICLES.c.source)
    .select_from(ALERT_ARTICLES.join(ARTICLES, ARTICLES.c.id == ALERT_ARTICLES.c.article_id))
    .where(ALERT_ARTICLES.c.alert_id == bindparam("alert_id"))
    .order_by(ALERT_ARTICLES.c.recorded_at, ARTICLES.c.id)
)


def latest_tags(session: Session, article_id: str) -> list[Tag]:
    """An article's tags, the newest of each topic, highest score first."""
    # An article re-classified by a newer classifier has tags of both versions: keep the newest per topic.
    rows = session.execute(select(Tag).where(Tag.article_id == article_id).order_by(Tag.id)).scalars()
    latest = {tag.topic: tag for tag in rows}
    return sorted(latest.values(), key=lambda tag: (-tag.score, tag.topic))
