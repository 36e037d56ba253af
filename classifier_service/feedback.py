"""Analysts' labels: "this article is (not) about this topic", stored for ``rasid train``.

The table ``classify_feedback`` belongs to the classifier service. A label keeps who gave it and
when, and the article's title and text as the command was given them: training needs the words, and
the service reads no other service's tables (the article id is checked against the text, so a label
cannot be filed under the wrong article). Every label is kept; the latest for an article and topic
supersedes the earlier ones (:func:`latest_labels`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from shared.db import UTCDateTime, make_metadata


class Base(DeclarativeBase):
    """Declarative base of the classifier service's tables."""

    metadata = make_metadata()


class FeedbackLabel(Base):
    """One label given by an analyst."""

    __tablename__ = "classify_feedback"
    __table_args__ = (Index("ix_classify_feedback_article_topic", "article_id", "topic"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[str] = mapped_column(String(64))
    topic: Mapped[str] = mapped_column(String(64))
    label: Mapped[bool] = mapped_column(Boolean)
    given_by: Mapped[str] = mapped_column(String(128))
    given_at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)


@dataclass(frozen=True, slots=True)
class Label:
    """A label as given: the article (id, title, text), the topic, 0 or 1, who, when and why."""

    article_id: str
    title: str
    text: str
    topic: str
    label: bool
    given_by: str
    given_at: datetime
    note: str | None = None


def record_label(session: Session, label: Label) -> int:
    """Store ``label`` (the caller commits); returns its id."""
    row = FeedbackLabel(
        article_id=label.article_id,
        topic=label.topic,
        label=label.label,
        given_by=label.given_by,
        given_at=label.given_at,
        note=label.note,
        title=label.title,
        text=label.text,
    )
    session.add(row)
    session.flush()
    return row.id


def latest_labels(session: Session) -> list[Label]:
    """The label in force for each article and topic (the latest given, the last stored of equals),
    by article id then topic."""
    rows = session.scalars(
        select(FeedbackLabel).order_by(
            FeedbackLabel.article_id, FeedbackLabel.topic, FeedbackLabel.given_at, FeedbackLabel.id
        )
    )
    latest: dict[tuple[str, str], FeedbackLabel] = {}
    for row in rows:
        latest[(row.article_id, row.topic)] = row
    return [
        Label(row.article_id, row.title, row.text, row.topic, row.label, row.given_by, row.given_at, row.note)
        for row in latest.values()
    ]
