"""Tables the alert service owns: stored articles with their tags and entities, the stories they are
grouped into, subscriptions and their watch rules, alerts (one per subscription and story), the later
articles of an alert's story, and the attempts made to deliver them.

Every table is named ``alert_<what>``: the services share one database, and a table's prefix names
the service that owns it. Timestamps are :class:`shared.db.UTCDateTime`: aware UTC in Python on
PostgreSQL and SQLite.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from shared.db import UTCDateTime, make_metadata

CHANNELS = ("email", "webhook")
STATUSES = ("pending", "sending", "delivered", "failed")
OUTCOMES = ("delivered", "retry", "failed")
DIGEST_KINDS = ("digest", "quiet")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class Base(DeclarativeBase):
    """Declarative base of the alert service's tables."""

    metadata = make_metadata()


class Article(Base):
    """An article as the classifier saw it; ``id`` is the ingest service's content id."""

    __tablename__ = "alert_articles"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    source_kind: Mapped[str] = mapped_column(String(16))
    url: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The ingest service's id of the feed the article came from (None for a dropped file).
    feed_id: Mapped[int | None] = mapped_column(Integer)
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    tags: Mapped[list[Tag]] = relationship(back_populates="article", lazy="raise")


class Tag(Base):
    """One topic the classifier gave an article, with its score and the passages behind it."""

    __tablename__ = "alert_tags"
    __table_args__ = (UniqueConstraint("article_id", "topic", "classifier_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[str] = mapped_column(ForeignKey("alert_articles.id", ondelete="CASCADE"))
    topic: Mapped[str] = mapped_column(String(64), index=True)
    score: Mapped[float] = mapped_column(Float)
    classifier_version: Mapped[str] = mapped_column(String(64))
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON)

    article: Mapped[Article] = relationship(back_populates="tags", lazy="raise")


class ArticleEntity(Base):
    """An actor or place an article names."""

    __tablename__ = "alert_article_entities"

    article_id: Mapped[str] = mapped_column(
        ForeignKey("alert_articles.id", ondelete="CASCADE"), primary_key=True
    )
    entity_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(Text)
    mentions: Mapped[int] = mapped_column(Integer)


class Story(Base):
    """Articles from any sources that report one event; started by ``first_article_id``."""

    __tablename__ = "alert_stories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_article_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StoryMember(Base):
    """The story an article was grouped into, with the profile grouping compared
    (:class:`alert_service.stories.Profile`) and the time it was placed at."""

    __tablename__ = "alert_story_members"

    article_id: Mapped[str] = mapped_column(
        ForeignKey("alert_articles.id", ondelete="CASCADE"), primary_key=True
    )
    story_id: Mapped[int] = mapped_column(ForeignKey("alert_stories.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    profile: Mapped[dict[str, Any]] = mapped_column(JSON)
    grouped_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Subscription(Base):
    """Someone to alert, how, and about what. ``secret`` signs webhooks (Standard Webhooks); ``rule``
    is the subscription's :class:`~alert_service.rules.WatchRule` as JSON.

    ``active`` says whether it alerts now. A paused subscription is inactive and can be resumed; a
    removed one is inactive too, and ``removed_at`` says when it was removed: it is listed no more
    and never alerts again. (Everything that sends asks ``active`` alone.)
    """

    __tablename__ = "alert_subscriptions"
    __table_args__ = (CheckConstraint(_one_of("channel", CHANNELS), name="channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(Text)
    rule: Mapped[dict[str, Any]] = mapped_column(JSON)
    secret: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The subscription's :class:`~alert_service.schedules.Schedule` as JSON; empty: immediate.
    schedule: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Alert(Base):
    """One story to deliver to one subscription, exactly once, through the story's first article that
    matched the subscription (``article_id``); later matching articles are :class:`AlertArticle` rows.
    ``story_id`` is empty for alerts made before articles were grouped into stories.

    ``lease_until`` bounds a claim: a 'sending' alert whose lease expired belongs to a dead worker.
    ``dispatched_at`` is when a delivery message was last sent for it, so the sweep does not flood.
    ``attempts_before_resend`` is ``attempts`` when an operator last re-sent it (``rasid alerts retry``):
    the retry schedule and the attempt limit count from there.
    """

    __tablename__ = "alert_alerts"
    __table_args__ = (
        UniqueConstraint("subscription_id", "article_id"),
        CheckConstraint(_one_of("status", STATUSES), name="status"),
        Index("ix_alert_alerts_status_next_attempt_at", "status", "next_attempt_at"),
        # A unique index, not a constraint: SQLite adds one to an existing table without a rebuild.
        Index("uq_alert_alerts_subscription_id_story_id", "subscription_id", "story_id", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("alert_subscriptions.id", ondelete="CASCADE"))
    article_id: Mapped[str] = mapped_column(ForeignKey("alert_articles.id", ondelete="CASCADE"), index=True)
    story_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    attempts_before_resend: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The digest the alert waits for (a digest subscription's, or quiet hours'); empty: sent alone.
    digest_id: Mapped[int | None] = mapped_column(Integer, index=True)


class Digest(Base):
    """The alerts of one subscription held over one period (``kind`` 'digest': an hourly or daily
    digest's; 'quiet': quiet hours'), sent together exactly once when the period ends. It exists only
    once an alert waits for it, so an empty period sends nothing. Delivered like an alert: claimed
    with a lease, ``attempts`` counted, retried on the retry schedule."""

    __tablename__ = "alert_digests"
    __table_args__ = (
        UniqueConstraint("subscription_id", "period_start"),
        CheckConstraint(_one_of("status", STATUSES), name="status"),
        CheckConstraint(_one_of("kind", DIGEST_KINDS), name="kind"),
        Index("ix_alert_digests_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("alert_subscriptions.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AlertArticle(Base):
    """A later article of an alert's story that matched the subscription too: recorded, not sent."""

    __tablename__ = "alert_alert_articles"

    alert_id: Mapped[int] = mapped_column(ForeignKey("alert_alerts.id", ondelete="CASCADE"), primary_key=True)
    article_id: Mapped[str] = mapped_column(
        ForeignKey("alert_articles.id", ondelete="CASCADE"), primary_key=True
    )
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DeliveryAttempt(Base):
    """One try at delivering an alert. ``outcome`` is empty while the try is in flight."""

    __tablename__ = "alert_delivery_attempts"
    __table_args__ = (
        UniqueConstraint("alert_id", "attempt"),
        CheckConstraint(f"outcome IS NULL OR {_one_of('outcome', OUTCOMES)}", name="outcome"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alert_alerts.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)
