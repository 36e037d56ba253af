"""The alert service's part of ``rasid status``, from its own tables: the last article stored, the
last alert sent, alerts waiting and alerts failed (see :mod:`shared.status`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alert_service.models import Alert, Article, Subscription
from shared.status import Check, when


def status_checks(session: Session, now: datetime) -> list[Check]:
    """The last article stored and alert sent; alerts pending and failed."""
    last_stored = session.execute(select(func.max(Article.stored_at))).scalar_one()
    last_sent = session.execute(select(func.max(Alert.delivered_at))).scalar_one()
    counts = _counts_by_status(session)
    failed = counts.get("failed", 0)
    problem = None
    if failed:
        problem = (
            f"{failed} alert(s) failed: rasid alerts list --status failed; once the cause is fixed, "
            "rasid alerts retry --failed"
        )
    return [
        Check("articles.last_stored_at", when(last_stored)),
        Check("alerts.last_sent_at", when(last_sent)),
        Check("alerts.pending", counts.get("pending", 0) + counts.get("sending", 0)),
        Check("alerts.failed", failed, problem=problem),
    ]


def _counts_by_status(session: Session) -> dict[str, int]:
    """Alerts of active subscriptions by status (a removed subscription's alerts are not sent)."""
    active = select(Subscription.id).where(Subscription.active.is_(True))
    rows = session.execute(
        select(Alert.status, func.count()).where(Alert.subscription_id.in_(active)).group_by(Alert.status)
    ).all()
    return {status: int(count) for status, count in rows}
