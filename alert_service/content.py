"""What one alert says: the article, its topics with scores, the sentences behind them and the other
outlets of its story known when it is sent.

Loaded once per delivery attempt and rendered by :mod:`alert_service.mail` or
:mod:`alert_service.webhook`; never sent on the broker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alert_service.models import Alert, Article, Subscription, Tag
from alert_service.reports import story_reports
from alert_service.subscriptions import rule_of


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
    """The content of one alert, read in the caller's transaction."""
    alert, subscription, article = session.execute(
        select(Alert, Subscription, Article)
        .join(Subscription, Subscription.id == Alert.subscription_id)
        .join(Article, Article.id == Alert.article_id)
        .where(Alert.id == alert_id)
    ).one()
    tags = latest_tags(session, article.id)
    later = story_reports(session, [alert.id]).get(alert.id, ())
    outlets = dict.fromkeys(report.source for report in later)
    also = tuple(source for source in outlets if source != article.source)
    return AlertContent(
        alert_id=alert.id,
        subscription_id=subscription.id,
        channel=subscription.channel,
        target=subscription.target,
        secret=subscription.secret,
        subscribed_topics=rule_of(subscription).topic_names,
        article_id=article.id,
        title=article.title,
        source=article.source,
        url=article.url,
        published_at=article.published_at,
        topics=tuple(TopicScore(topic=tag.topic, score=tag.score) for tag in tags),
        evidence=tuple(item for tag in tags for item in tag.evidence),
        also_reported_by=also,
    )


def latest_tags(session: Session, article_id: str) -> list[Tag]:
    """An article's tags, the newest of each topic, highest score first."""
    # An article re-classified by a newer classifier has tags of both versions: keep the newest per topic.
    rows = session.execute(select(Tag).where(Tag.article_id == article_id).order_by(Tag.id)).scalars()
    latest = {tag.topic: tag for tag in rows}
    return sorted(latest.values(), key=lambda tag: (-tag.score, tag.topic))
