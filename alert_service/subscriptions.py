"""Subscriptions: who gets alerts, through which channel, about what (a watch rule).

Webhook subscriptions get a Standard Webhooks signing secret (``whsec_`` + base64 of 32 random bytes).
A subscription is active, paused or removed. Pausing stops its alerts until it is resumed (alerts made
before wait, and are sent on resume); removing it is for good: it leaves the lists, never alerts
again, and its unsent alerts fail. Creating and changing a subscription validate the same way
(:func:`_apply`): the target against its channel, the rule and the schedule as read.
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
State = Literal["active", "paused", "removed"]
SECRET_BYTES = 32


@dataclass(frozen=True)
class SubscriptionChange:
    """What to change in a subscription; what is None stays as it is."""

    target: str | None = None
    rule: WatchRule | None = None
    schedule: Schedule | None = None
    paused: bool | None = None


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


def validate_target(channel: str, target: str, *, policy: TargetPolicy) -> str:
    """The target, normalised, if it suits ``channel``: an email address, or a webhook URL whose host
    ``policy`` lets through."""
    return validate_email(target) if channel == "email" else validate_url(target, policy=policy)


def _apply(subscription: Subscription, change: SubscriptionChange, *, policy: TargetPolicy) -> None:
    """Write ``change`` into ``subscription`` (new or stored), the target validated first, so that
    nothing changes when it is refused. The rule's topics and entities were resolved when it was read,
    the schedule checked when it was built."""
    if change.target is not None:
        subscription.target = validate_target(subscription.channel, change.target, policy=policy)
    if change.rule is not None:
        subscription.rule = change.rule.to_json()
    if change.schedule is not None:
        subscription.schedule = None if change.schedule == IMMEDIATE else change.schedule.to_json()
    if change.paused is not None:
        subscription.active = not change.paused


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
    """Add an active subscription after validating its target (a webhook URL against ``policy``).
    ``schedule`` says when its alerts are sent."""
    subscription = Subscription(channel=channel, created_at=now or utc_now(), active=True, schedule=None)
    _apply(subscription, SubscriptionChange(target=target, rule=rule, schedule=schedule), policy=policy)
    subscription.secret = new_secret() if channel == "webhook" else None
    session.add(subscription)
    session.flush()
    return NewSubscription(id=subscription.id, secret=subscription.secret)


def change_subscription(
    session: Session,
    subscription_id: int,
    change: SubscriptionChange,
    *,
    policy: TargetPolicy = PUBLIC_ONLY,
) -> Subscription:
    """Change a subscription that is not removed: its target (same channel), rule, schedule, or
    whether it is paused. Alerts already made stay as they are."""
    subscription = live_subscription(session, subscription_id)
    _apply(subscription, change, policy=policy)
    session.flush()
    return subscription


def state_of(subscription: Subscription) -> State:
    """Whether a subscription is active, paused or removed."""
    if subscription.removed_at is not None:
        return "removed"
    return "active" if subscription.active else "paused"


def list_subscriptions(session: Session, *, include_removed: bool = False) -> list[Subscription]:
    """Subscriptions, active and paused (and removed ones with ``include_removed``), oldest first."""
    query = select(Subscription).order_by(Subscription.id)
    if not include_removed:
        query = query.where(Subscription.removed_at.is_(None))
    return list(session.execute(query).scalars())


def get_subscription(session: Session, subscription_id: int) -> Subscription:
    """The subscription with this id, active, paused or removed."""
    subscription = session.get(Subscription, subscription_id)
    if subscription is None:
        raise SubscriptionError(f"no subscription {subscription_id}")
    return subscription


def live_subscription(session: Session, subscription_id: int) -> Subscription:
    """The subscription with this id, if it was not removed."""
    subscription = get_subscription(session, subscription_id)
    if subscription.removed_at is not None:
        raise SubscriptionError(f"subscription {subscription_id} was removed")
    return subscription


def rule_of(subscription: Subscription) -> WatchRule:
    """A subscription's watch rule."""
    return WatchRule.model_validate(subscription.rule)


def schedule_of(subscription: Subscription) -> Schedule:
    """When a subscription's alerts are sent (immediate when it stores no schedule)."""
    return Schedule.model_validate(subscription.schedule) if subscription.schedule else IMMEDIATE


def remove_subscription(session: Session, subscription_id: int, *, now: datetime | None = None) -> int:
    """Remove a subscription (active or paused) for good and fail its pending alerts; returns how
    many were cancelled."""
    found = session.execute(
        update(Subscription)
        .where(Subscription.id == subscription_id, Subscription.removed_at.is_(None))
        .values(active=False, removed_at=now or utc_now())
        .execution_options(synchronize_session=False)
    )
    if found.rowcount != 1:  # type: ignore[attr-defined]
        raise SubscriptionError(f"no subscription {subscription_id} (or it was removed already)")
    cancelled = session.execute(
        update(Alert)
        .where(Alert.subscription_id == subscription_id, Alert.status == "pending")
        .values(status="failed", last_error="subscription removed")
        .execution_options(synchronize_session=False)
    )
    return int(cancelled.rowcount)  # type: ignore[attr-defined]
