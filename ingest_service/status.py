"""The ingest service's part of ``rasid status``, from its own tables: articles ingested lately and
the last one, feeds failing, files rejected (see :mod:`shared.status`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ingest_service.models import Feed, SeenArticle, SeenFile
from shared.status import Check, when

# How many failing feeds a problem names before it says "and N more".
NAMED_FEEDS = 3


def status_checks(session: Session, now: datetime) -> list[Check]:
    """Articles ingested in the last hour and day, the last one, failing feeds, rejected files."""
    return [*_article_checks(session, now), _feed_check(session), *_rejected_checks(session, now)]


def _article_checks(session: Session, now: datetime) -> list[Check]:
    def since(delta: timedelta) -> int:
        query = select(func.count()).where(SeenArticle.first_seen_at >= now - delta)
        return int(session.execute(query).scalar_one())

    last = session.execute(select(func.max(SeenArticle.first_seen_at))).scalar_one()
    return [
        Check("articles.ingested_last_hour", since(timedelta(hours=1))),
        Check("articles.ingested_last_day", since(timedelta(days=1))),
        Check("articles.last_ingested_at", when(last)),
    ]


def _feed_check(session: Session) -> Check:
    failing = session.execute(
        select(Feed.id, Feed.error_count, Feed.last_error)
        .where(Feed.active.is_(True), Feed.last_error.is_not(None))
        .order_by(Feed.id)
    ).all()
    if not failing:
        return Check("feeds.failing", 0)
    named = "; ".join(
        f"feed {feed_id} ({count} failed poll(s)): {error}" for feed_id, count, error in failing[:NAMED_FEEDS]
    )
    more = f"; and {len(failing) - NAMED_FEEDS} more" if len(failing) > NAMED_FEEDS else ""
    return Check("feeds.failing", len(failing), problem=f"feed failing: {named}{more} (rasid feeds list)")


def _rejected_checks(session: Session, now: datetime) -> list[Check]:
    """Rejected files are the dropper's to look at (rejected/ says why), not a fault of Rasid's."""
    rejected = select(func.count()).where(SeenFile.status == "rejected")
    last_day = rejected.where(SeenFile.seen_at >= now - timedelta(days=1))
    return [
        Check("files.rejected_last_day", int(session.execute(last_day).scalar_one())),
        Check("files.rejected", int(session.execute(rejected).scalar_one())),
    ]
