"""Helpers of the alert service's tests: the fixture files, a clock, database short-cuts, and the
real peers: an SMTP recorder for aiosmtpd and an HTTP receiver for webhooks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from alert_service.models import Alert, DeliveryAttempt
from alert_service.store import store_classified
from alert_service.subscriptions import Channel, NewSubscription, subscribe
from shared.db import session_scope
from shared.messages import ArticleClassified

FIXTURES = Path(__file__).parent.parent / "fixtures" / "alert"
NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def at(hours: float) -> datetime:
    """A moment ``hours`` after NOW; two hours apart is past any backoff (capped at one hour)."""
    return NOW + timedelta(hours=hours)


def add_subscription(url: str, channel: Channel, target: str, topics: list[str]) -> NewSubscription:
    with session_scope(url) as session:
        return subscribe(session, channel, target=target, topics=topics, now=NOW)


def store(url: str, message: ArticleClassified) -> list[int]:
    with session_scope(url) as session:
        return store_classified(session, message, now=NOW)


def alert(url: str, alert_id: int) -> Alert:
    with session_scope(url) as session:
        return session.execute(select(Alert).where(Alert.id == alert_id)).scalar_one()


def attempts(url: str, alert_id: int) -> list[DeliveryAttempt]:
    with session_scope(url) as session:
        query = (
            select(DeliveryAttempt)
            .where(DeliveryAttempt.alert_id == alert_id)
            .order_by(DeliveryAttempt.attempt)
        )
        return list(session.execute(query).scalars())


def make_due(url: str, alert_id: int, when: datetime) -> None:
    """Move an alert's next attempt to ``when`` (instead of waiting for the backoff)."""
    with session_scope(url) as session:
        session.execute(update(Alert).where(Alert.id == alert_id).values(next_attempt_at=when))
