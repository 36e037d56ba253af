"""Subscriptions: who gets alerts, through which channel, about what (a watch rule).

Webhook subscriptions get a Standard Webhooks signing secret (``whsec_`` + base64 of 32 random bytes).
Removing a subscription deactivates it and fails its unsent alerts, so none is sent afterwards.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime
from email.errors import HeaderParseError
from email.headerregistry import Address
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from alert_service.errors import SubscriptionError
from alert_service.models import Alert, Subscription
from alert_service.rules import WatchRule
from alert_service.schedules import IMMEDIATE, Schedule
from shared.db import utc_now
from shared.net import PUBLIC_ONLY, InvalidTargetError, TargetPolicy, TargetRefused, check_target

Channel = Literal["email", "webhook"]
SECRET_BYTES = 32


@dataclass(frozen=True)
class NewSubscription:
    """What the subscriber must keep: the id, and the secret that signs its webhooks."""

    id: int
    secret: str | None


def new_secret() -> str:
    """A fresh Standard Webhooks signing secret."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def validate_email(address: str) -> str:
    """The address, if it is a single ``local@domain`` address."""
    try:
        parsed = Address(addr_spec=address.strip())
    except (HeaderParseError, ValueError, IndexError) as error:
        raise SubscriptionError(f"{address!r} is not an email address: {error}") from error
    if not parsed.username or ("." not in parsed.domain and parsed.domain != "localhost"):
        raise SubscriptionError(f"{address!r} is not an email address like analyst@example.org")
    return parsed.addr_spec


def validate_url(url: str, *, policy: TargetPolicy) -> str:
    """The URL, normalised, if it is an absolute http(s) URL whose host ``policy`` lets through."""
    try:
        return check_target(url, policy=policy)
    except (InvalidTargetError, TargetRefused) as error:
        raise SubscriptionError(str(error)) from error


def subscribe(  # noqa: PLR0913 -- past the second, every argument is keyword-only and named
    session: Session,
    channel: Channel,
    *,
    target: str,
    rule: WatchRule,
    policy: TargetPolicy = PUBLIC_ONLY,
    now: datetime | None = None,
    schedule: Schedule = IMMEDIATE,
) -> NewSubscription:
    """Add a subscription after validating its target (a webhook URL against ``policy``); the rule's
    topics and entities were resolved when it was read. ``schedule`` says when its alerts are sent."""
    target = validate_email(target) if channel == "email" else validate_url(target, policy=policy)
    secret = new_secret() if channel == "webhook" else None
    subscription = Subscription(
        channel=channel,
        target=target,
        rule=rule.to_json(),
        secret=secret,
        schedule=None if schedule == IMMEDIATE else schedule.to_json(),
        created_at=now or utc_now(),
        active=True,
    )
    session.add(subscription)
    session.flush()
    return NewSubscription(id=subscription.id, secret=secret)


def list_subscriptions(session: Session, *, include_inactive: bool = False) -> list[Subscription]:
    """Subscriptions, oldest first."""
    query = select(Subscription).order_by(Subscription.id)
    if not include_inactive:
        query = query.where(Subscription.active.is_(True))
    return list(session.execute(query).scalars())


def get_subscription(session: Session, subscription_id: int) -> Subscription:
    """The subscription with this id, active or removed."""
    subscription = session.get(Subscription, subscription_id)
    if subscription is None:
        raise SubscriptionError(f"no subscription {subscription_id}")
    return subscription


def rule_of(subscription: Subscription) -> WatchRule:
    """A subscription's watch rule."""
    return WatchRule.model_validate(subscription.rule)


def schedule_of(subscription: Subscription) -> Schedule:
    """When a subscription's alerts are sent (immediate when it stores no schedule)."""
    return Schedule.model_validate(subscription.schedule) if subscription.schedule else IMMEDIATE


def remove_subscription(session: Session, subscription_id: int) -> int:
    """Deactivate a subscription and fail its pending alerts; returns how many were cancelled."""
    found = session.execute(
        update(Subscription)
        .where(Subscription.id == subscription_id, Subscription.active.is_(True))
        .values(active=False)
        .execution_options(synchronize_session=False)
    )
    if found.rowcount != 1:  # type: ignore[attr-defined]
        raise SubscriptionError(f"no active subscription {subscription_id}")
    cancelled = session.execute(
        update(Alert)
        .where(Alert.subscription_id == subscription_id, Alert.status == "pending")
        .values(status="failed", last_error="subscription removed")
        .execution_options(synchronize_session=False)
    )
    return int(cancelled.rowcount)  # type: ignore[attr-defined]


def change_subscription(
    session: Session, subscription_id: int, *, rule: WatchRule | None = None, active: bool | None = None
) -> Subscription:
    """Give a subscription a new rule, or pause (``active=False``) or resume it; a paused
    subscription's alerts already made stay as they are."""
    subscription = get_subscription(session, subscription_id)
    if rule is not None:
        subscription.rule = rule.to_json()
    if active is not None:
        subscription.active = active
    session.flush()
    return subscription
