"""What the alert service's tests share: the fixture files, a clock, a builder of classified-article
messages and database short-cuts."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from alert_service.models import Alert, DeliveryAttempt
from alert_service.rules import WatchRule
from alert_service.store import store_classified
from alert_service.subscriptions import Channel, NewSubscription, subscribe
from shared.db import session_scope
from shared.messages import ArticleClassified
from shared.net import TargetPolicy

FIXTURES = Path(__file__).parent.parent / "fixtures" / "alert"
NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


MessageFactory = Callable[..., ArticleClassified]


def classified_message(
    article_id: str | None = None, *, tags: list[str] | None = None, version: str | None = None
) -> ArticleClassified:
    """An ArticleClassified built from the fixture file, with chosen id, tags and version."""
    payload = load_fixture("classified_article.json")
    if article_id:
        payload["article"]["article_id"] = article_id
    if tags is not None:
        payload["classification"]["tags"] = tags
        payload["classification"]["scores"] = {tag: 0.8 for tag in tags}
        payload["classification"]["evidence"] = [
            item for item in payload["classification"]["evidence"] if item["topic"] in tags
        ]
    if version:
        payload["classification"]["classifier_version"] = version
    return ArticleClassified.from_payload(payload)


def at(hours: float) -> datetime:
    """A moment ``hours`` after NOW; two hours apart is past the first four waits of the schedule."""
    return NOW + timedelta(hours=hours)


def add_subscription(url: str, channel: Channel, target: str, topics: list[str]) -> NewSubscription:
    with session_scope(url) as session:
        policy = TargetPolicy(allow_private=True)  # the test receivers run on 127.0.0.1
        rule = WatchRule.of_topics(topics)
        return subscribe(session, channel, target=target, rule=rule, policy=policy, now=NOW)


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
