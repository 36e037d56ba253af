"""Read-only views for the command line: recent articles with their topics, alerts with their state and
the later articles of their story."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from alert_service.models import Alert, AlertArticle, Article, Tag


@dataclass(frozen=True)
class ArticleRow:
    """One stored article and its topics, highest score first."""

    id: str
    title: str
    source: str
    source_kind: str
    url: str | None
    published_at: datetime | None
    stored_at: datetime
    topics: tuple[tuple[str, float], ...]


def recent_articles(session: Session, *, limit: int, topic: str | None = None) -> list[ArticleRow]:
    """The newest stored articles, optionally only those tagged ``topic``."""
    query = select(Article).order_by(Article.stored_at.desc(), Article.id).limit(limit)
    if topic:
        query = query.where(exists().where(Tag.article_id == Article.id, Tag.topic == topic))
    articles = list(session.execute(query).scalars())
    topics = _topics_of(session, [article.id for article in articles])
    return [
        ArticleRow(
            id=article.id,
            title=article.title,
            source=article.source,
            source_kind=article.source_kind,
            url=article.url,
            published_at=article.published_at,
            stored_at=article.stored_at,
            topics=topics.get(article.id, ()),
        )
        for article in articles
    ]


def _topics_of(session: Session, article_ids: list[str]) -> dict[str, tuple[tuple[str, float], ...]]:
    rows = session.execute(
        select(Tag.article_id, Tag.topic, Tag.score).where(Tag.article_id.in_(article_ids)).order_by(Tag.id)
    )
    latest: dict[str, dict[str, float]] = {}
    for row in rows:
        latest.setdefault(row.article_id, {})[row.topic] = row.score
    return {
        article_id: tuple(sorted(scores.items(), key=lambda item: (-item[1], item[0])))
        for article_id, scores in latest.items()
    }


def recent_alerts(session: Session, *, limit: int, status: str | None = None) -> list[Alert]:
    """The newest alerts, optionally only those in ``status``."""
    query = select(Alert).order_by(Alert.id.desc()).limit(limit)
    if status:
        query = query.where(Alert.status == status)
    return list(session.execute(query).scalars())


def alerts_by_id(session: Session, alert_ids: list[int]) -> list[Alert]:
    """The alerts ``alert_ids``, oldest first."""
    return list(session.execute(select(Alert).where(Alert.id.in_(alert_ids)).order_by(Alert.id)).scalars())


@dataclass(frozen=True)
class StoryReport:
    """An article of an alert's story: the one that alerted, or a later one recorded against it."""

    article_id: str
    source: str
    title: str
    url: str | None
    published_at: datetime | None


def _report(article: Article) -> StoryReport:
    return StoryReport(article.id, article.source, article.title, article.url, article.published_at)


def story_reports(session: Session, alert_ids: list[int]) -> dict[int, tuple[StoryReport, ...]]:
    """The later articles recorded against each alert, in the order they were recorded."""
    rows = session.execute(
        select(AlertArticle.alert_id, Article)
        .join(Article, Article.id == AlertArticle.article_id)
        .where(AlertArticle.alert_id.in_(alert_ids))
        .order_by(AlertArticle.recorded_at, Article.id)
    )
    found: dict[int, list[StoryReport]] = {}
    for alert_id, article in rows:
        found.setdefault(alert_id, []).append(_report(article))
    return {alert_id: tuple(reports) for alert_id, reports in found.items()}


@dataclass(frozen=True)
class AlertRecord:
    """One alert as ``rasid alerts show`` prints it."""

    alert: Alert
    article: StoryReport
    later: tuple[StoryReport, ...]

    @property
    def outlets(self) -> list[str]:
        """Every outlet that reported the story for this alert, the alerting one first."""
        return list(dict.fromkeys([self.article.source, *(report.source for report in self.later)]))

    @property
    def also_reported_by(self) -> list[str]:
        """The outlets other than the alerting article's."""
        return self.outlets[1:]


def alert_records(session: Session, alert_ids: list[int]) -> list[AlertRecord]:
    """The alerts ``alert_ids`` with their article and the later articles of their story, oldest first."""
    rows = session.execute(
        select(Alert, Article).join(Article, Article.id == Alert.article_id).where(Alert.id.in_(alert_ids))
    ).all()
    later = story_reports(session, alert_ids)
    return [
        AlertRecord(alert, _report(article), later.get(alert.id, ()))
        for alert, article in sorted(rows, key=lambda row: row[0].id)
    ]
