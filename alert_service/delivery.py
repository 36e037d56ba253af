"""Delivering alerts exactly once, retrying what fails.

An alert is claimed before it is sent: one conditional UPDATE moves it from 'pending' (and due) to
'sending' with a lease, and the claim is committed before anything leaves the process. Only the
worker holding the claim sends; a claim whose lease expired belongs to a worker that died mid-send
and may be taken again. Each claim counts an attempt and writes a :class:`DeliveryAttempt` row; the
outcome is recorded only while the claim is still ours (the attempt number fences it).

Retries are rows, not Celery retries: a retryable failure puts the alert back to 'pending' with a
``next_attempt_at`` taken from the retry schedule (Standard Webhooks': 5 s, 5 min, 30 min, 2 h, 5 h,
then every 10 h, with jitter: about three days in all), or later if the receiver asked so
(Retry-After); the sweep dispatches it when due. An operator re-sends a failed alert with
:func:`resend_alerts` (``rasid alerts retry``): due now, with the whole schedule again.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Literal, cast

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Table,
    Update,
    and_,
    bindparam,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

from alert_service.content import AlertContent, load_content
from alert_service.errors import AlertError, PermanentDeliveryError, RetryableDeliveryError
from alert_service.mailbox import deliver_email
from alert_service.models import Alert, DeliveryAttempt, Digest, Subscription
from alert_service.settings import AlertSettings
from alert_service.webhook import send_webhook
from shared.db import UTCDateTime, session_scope, utc_now

log = logging.getLogger(__name__)

Sender = Callable[[AlertContent, AlertSettings], str]
Clock = Callable[[], datetime]
# Email goes to the SMTP server, or to the local mailbox when no SMTP host is set.
SENDERS: Mapping[str, Sender] = {"email": deliver_email, "webhook": send_webhook}
# Each wait is drawn within ±20 % of its step, so receivers that failed together are not all retried
# at the same instant.
JITTER = 0.2


@dataclass(frozen=True)
class Claim:
    """The right to send one alert, as its ``attempt``-th attempt (``attempt - resent_after`` since
    an operator last re-sent it)."""

    alert_id: int
    attempt: int
    resent_after: int = 0

    @property
    def attempt_of_round(self) -> int:
        """The attempt's number counted from the last re-send: what the schedule and limit count."""
        return self.attempt - self.resent_after


@dataclass(frozen=True)
class Outcome:
    """How one attempt ended."""

    kind: Literal["delivered", "retry", "failed"]
    detail: str
    retry_after: float | None = None


ALERTS = cast(Table, Alert.__table__)
ATTEMPTS = cast(Table, DeliveryAttempt.__table__)
SUBSCRIPTIONS = cast(Table, Subscription.__table__)
# An attempt starts without an outcome; the outcome is recorded when it ends.
_START_ATTEMPT = insert(ATTEMPTS)
# "Now" in statements built once and run many times.
_NOW: BindParameter[datetime] = bindparam("claim_now", type_=UTCDateTime())

# What is delivered with a lease: an alert, or a digest of alerts (alert_service.digests).
Deliverable = type[Alert] | type[Digest]


def claimable(model: Deliverable, now: datetime | BindParameter[datetime]) -> ColumnElement[bool]:
    """Rows of ``model`` that a worker may claim now: due and pending, or sending under a lease that
    expired (their worker died), of a subscription that is active."""
    # In Core terms, so that a statement on the table alone runs without the ORM's overhead.
    rows = _table(model).c
    active = select(SUBSCRIPTIONS.c.id).where(SUBSCRIPTIONS.c.active.is_(True))
    return and_(
        rows.subscription_id.in_(active),
        or_(
            and_(rows.status == "pending", rows.next_attempt_at <= now),
            and_(rows.status == "sending", rows.lease_until < now),
        ),
    )


def _table(model: Deliverable) -> Table:
    return cast(Table, model.__table__)


def _alert_claimable(now: datetime | BindParameter[datetime]) -> ColumnElement[bool]:
    # A held alert is sent in its digest (alert_service.digests), never alone.
    return and_(claimable(Alert, now), ALERTS.c.digest_id.is_(None))


def take_lease(  # noqa: PLR0913 -- past the second, every argument is keyword-only and named
    session: Session,
    model: Deliverable,
    row_id: int,
    *,
    now: datetime,
    lease_seconds: float,
    condition: ColumnElement[bool],
    resent_after: ColumnElement[int] | InstrumentedAttribute[int],
) -> Claim | None:
    """One conditional UPDATE: the row ``row_id`` of ``model`` goes to 'sending' with a lease and one
    more attempt, if ``condition`` holds; None when it is not ours to send."""
    statement = _lease_statement(model, condition=condition, resent_after=resent_after)
    return _lease(session, statement, row_id, lease_until=now + timedelta(seconds=lease_seconds))


def _lease_statement(
    model: Deliverable,
    *,
    condition: ColumnElement[bool],
    resent_after: ColumnElement[int] | InstrumentedAttribute[int],
) -> Update:
    """:func:`take_lease`'s UPDATE, with the row's id and the lease's end as parameters."""
    rows = _table(model)
    return (
        update(rows)
        .where(rows.c.id == bindparam("row_id"), condition)
        .values(
            status="sending",
            lease_until=bindparam("lease_end", type_=UTCDateTime()),
            attempts=rows.c.attempts + 1,
        )
        .returning(rows.c.attempts, resent_after)
    )


def _lease(
    session: Session, statement: Update, row_id: int, *, lease_until: datetime, **params: object
) -> Claim | None:
    row = session.execute(statement, {"row_id": row_id, "lease_end": lease_until, **params}).one_or_none()
    if row is None:
        return None
    attempt, resent = row
    return Claim(alert_id=row_id, attempt=int(attempt), resent_after=int(resent))


@cache
def _alert_lease_statement() -> Update:
    # Built once: an alert is claimed on every delivery, and building the statement (and its cache
    # key) took as long as running it.
    return _lease_statement(
        Alert, condition=_alert_claimable(_NOW), resent_after=ALERTS.c.attempts_before_resend
    )


def claim_alert(session: Session, alert_id: int, *, now: datetime, lease_seconds: float) -> Claim | None:
    """Claim a due (or abandoned) alert for sending; None when it is not ours to send."""
    lease_until = now + timedelta(seconds=lease_seconds)
    claim = _lease(session, _alert_lease_statement(), alert_id, lease_until=lease_until, claim_now=now)
    if claim is None:
        return None
    if claim.attempt > 1:
        # Only an alert tried before can have an attempt that its worker left without an outcome.
        _close_abandoned_attempts(session, alert_id, now=now)
    session.execute(_START_ATTEMPT, {"alert_id": alert_id, "attempt": claim.attempt, "started_at": now})
    return claim


def _close_abandoned_attempts(session: Session, alert_id: int, *, now: datetime) -> None:
    session.execute(
        update(DeliveryAttempt)
        .where(DeliveryAttempt.alert_id == alert_id, DeliveryAttempt.outcome.is_(None))
        .values(outcome="retry", finished_at=now, detail="abandoned: lease expired before an outcome")
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class RetryPolicy:
    """When to try again: after attempt n wait ``steps[n-1]`` (the last step repeats), within
    ±:data:`JITTER`, up to ``max_attempts``."""

    steps: tuple[float, ...]
    max_attempts: int
    rng: random.Random = field(default_factory=random.SystemRandom, compare=False)

    @classmethod
    def from_settings(cls, settings: AlertSettings) -> RetryPolicy:
        """The policy the settings describe."""
        return cls(settings.retry_steps, settings.max_attempts)

    def step(self, attempt: int) -> float:
        """The scheduled wait after the ``attempt``-th attempt, before jitter."""
        return self.steps[min(attempt, len(self.steps)) - 1]

    def delay(self, attempt: int, *, retry_after: float | None = None) -> float:
        """Seconds before the next attempt; a receiver's Retry-After is honoured up to the longest step
        (a receiver cannot park an alert for longer than the schedule would)."""
        delay = self.step(attempt) * self.rng.uniform(1 - JITTER, 1 + JITTER)
        if retry_after is not None:
            delay = max(delay, min(retry_after, max(self.steps)))
        return delay


def record_outcome(
    session: Session, claim: Claim, *, outcome: Outcome, now: datetime, policy: RetryPolicy
) -> str:
    """Record how the attempt ended and move the alert on; returns the alert's new status."""
    values = next_state(claim, outcome=outcome, now=now, policy=policy)
    claimed = {"claimed_id": claim.alert_id, "claimed_attempt": claim.attempt}
    result = session.execute(_RECORD_ALERT_OUTCOME, {**claimed, **values})
    attempt_outcome = "failed" if values["status"] == "failed" else outcome.kind
    finished = {"finished_at": now, "outcome": attempt_outcome, "detail": outcome.detail[:2000]}
    session.execute(_FINISH_ATTEMPT, {**claimed, **finished})
    if result.rowcount != 1:  # type: ignore[attr-defined]
        log.warning("alert.claim_lost", extra={"alert_id": claim.alert_id, "attempt": claim.attempt})
    return str(values["status"])


# Both set the columns their parameters name, besides the claim's (Core updates, built once: one runs
# for every delivery). The alert's is fenced: it changes the alert only while the claim is ours.
_RECORD_ALERT_OUTCOME = update(ALERTS).where(
    ALERTS.c.id == bindparam("claimed_id"),
    ALERTS.c.status == "sending",
    ALERTS.c.attempts == bindparam("claimed_attempt"),
)
_FINISH_ATTEMPT = update(ATTEMPTS).where(
    ATTEMPTS.c.alert_id == bindparam("claimed_id"), ATTEMPTS.c.attempt == bindparam("claimed_attempt")
)


def next_state(claim: Claim, *, outcome: Outcome, now: datetime, policy: RetryPolicy) -> dict[str, object]:
    """The columns an alert (or a digest) takes after the claimed attempt ended with ``outcome``."""
    done: dict[str, object] = {"lease_until": None}
    if outcome.kind == "delivered":
        return {**done, "status": "delivered", "delivered_at": now, "last_error": None}
    if outcome.kind == "failed":
        return {**done, "status": "failed", "last_error": outcome.detail}
    if claim.attempt_of_round >= policy.max_attempts:
        return {
            **done,
            "status": "failed",
            "last_error": f"gave up after {claim.attempt_of_round} attempts: {outcome.detail}",
        }
    delay = policy.delay(claim.attempt_of_round, retry_after=outcome.retry_after)
    return {
        **done,
        "status": "pending",
        "next_attempt_at": now + timedelta(seconds=delay),
        "dispatched_at": None,
        "last_error": outcome.detail,
    }


def send_alert(content: AlertContent, settings: AlertSettings, *, senders: Mapping[str, Sender]) -> Outcome:
    """Send one alert through its channel and say how it went."""
    return attempt_send(
        lambda: senders[content.channel](content, settings),
        crash_event="alert.send_crashed",
        ids={"alert_id": content.alert_id},
    )


def attempt_send(send: Callable[[], str], *, crash_event: str, ids: Mapping[str, int]) -> Outcome:
    """How one call of ``send`` went: delivered (its detail), to retry, or failed; a crash is logged
    as ``crash_event`` with ``ids`` and retried."""
    try:
        return Outcome("delivered", send())
    except RetryableDeliveryError as error:
        return Outcome("retry", error.detail, retry_after=error.retry_after)
    except PermanentDeliveryError as error:
        return Outcome("failed", error.detail)
    except Exception as error:
        # A bug, not the receiver: count it as an attempt so the row ends failed instead of looping.
        log.exception(crash_event, extra=dict(ids))
        return Outcome("retry", f"unexpected {type(error).__name__}: {error}")


def deliver_alert(
    database_url: str,
    alert_id: int,
    *,
    settings: AlertSettings,
    clock: Clock = utc_now,
    senders: Mapping[str, Sender] = SENDERS,
) -> str | None:
    """Claim, send and record one alert: a transaction, the send with no transaction open, a
    transaction (the orchestrator opens its own, so it takes the database URL, not a session).

    Returns the alert's new status, or None when it was not claimable (already sent, not due,
    claimed by another worker, or its subscription was removed).
    """
    with session_scope(database_url) as session:
        claim = claim_alert(session, alert_id, now=clock(), lease_seconds=settings.delivery_lease_seconds)
        content = load_content(session, alert_id) if claim else None
    if claim is None or content is None:
        log.debug("alert.not_claimed", extra={"alert_id": alert_id})
        return None
    outcome = send_alert(content, settings, senders=senders)
    with session_scope(database_url) as session:
        policy = RetryPolicy.from_settings(settings)
        status = record_outcome(session, claim, outcome=outcome, now=clock(), policy=policy)
        alert = session.get(Alert, alert_id) if status == "pending" else None
        retry_at = alert.next_attempt_at if alert is not None else None
    retry_in = retry_at - clock() if retry_at is not None else None
    _log_outcome(content, claim, status=status, detail=outcome.detail, retry_in=retry_in)
    return status


def _log_outcome(
    content: AlertContent, claim: Claim, *, status: str, detail: str, retry_in: timedelta | None
) -> None:
    """One line per attempt: ``alert.delivered``, ``alert.retrying`` (with when) or ``alert.failed``."""
    extra: dict[str, object] = {
        "alert_id": content.alert_id,
        "attempt": claim.attempt,
        "channel": content.channel,
        "detail": detail,
    }
    if retry_in is not None:
        extra["retry_in"] = _duration(retry_in.total_seconds())
    event = "alert.retrying" if status == "pending" else f"alert.{status}"
    log.log(logging.INFO if status == "delivered" else logging.WARNING, event, extra=extra)


def _duration(seconds: float) -> str:
    """``42s``, ``5m``, ``2h``: a wait as a person reads it (the schedule's own units)."""
    seconds = max(seconds, 0.0)
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.0f}h"


def dispatch_due(session: Session, *, now: datetime, settings: AlertSettings) -> list[int]:
    """Alerts to send a delivery message for: due retries, lost messages and expired leases.

    Marks them dispatched so the next sweep does not send them again before ``redispatch_seconds``.
    """
    _fail_exhausted(session, now=now, max_attempts=settings.max_attempts)
    quiet_since = now - timedelta(seconds=settings.redispatch_seconds)
    query = (
        select(Alert.id)
        .where(_alert_claimable(now), or_(Alert.dispatched_at.is_(None), Alert.dispatched_at <= quiet_since))
        .order_by(Alert.next_attempt_at, Alert.id)
        .limit(settings.sweep_batch)
    )
    alert_ids = list(session.execute(query).scalars())
    if alert_ids:
        session.execute(
            update(Alert)
            .where(Alert.id.in_(alert_ids))
            .values(dispatched_at=now)
            .execution_options(synchronize_session=False)
        )
    return alert_ids


def _fail_exhausted(session: Session, *, now: datetime, max_attempts: int) -> None:
    # A worker that died during the last allowed attempt leaves a 'sending' alert nobody may retry.
    session.execute(
        update(Alert)
        .where(
            Alert.status == "sending",
            Alert.lease_until < now,
            Alert.attempts - Alert.attempts_before_resend >= max_attempts,
        )
        .values(
            status="failed",
            lease_until=None,
            last_error=f"gave up after {max_attempts} attempts: worker stopped",
        )
        .execution_options(synchronize_session=False)
    )


class ResendError(AlertError):
    """An alert the operator asked to re-send cannot be."""


def resend_alerts(session: Session, alert_ids: Sequence[int] | None, *, now: datetime) -> list[int]:
    """Make alerts due now, with the whole retry schedule again: the named ones (failed or pending),
    or every failed one when ``alert_ids`` is None. Their attempts and attempt history are kept; the
    sweep sends them. Returns the ids re-sent, oldest first."""
    if alert_ids is not None:
        _check_resendable(session, alert_ids)
    active = select(Subscription.id).where(Subscription.active.is_(True))
    statuses = ("failed", "pending") if alert_ids is not None else ("failed",)
    statement = (
        update(Alert)
        .where(Alert.status.in_(statuses), Alert.subscription_id.in_(active))
        .values(
            status="pending",
            next_attempt_at=now,
            dispatched_at=None,
            lease_until=None,
            attempts_before_resend=Alert.attempts,
            # Re-sent alone: a failed digest's alerts would otherwise wait for a digest already over.
            digest_id=None,
        )
        .returning(Alert.id)
        .execution_options(synchronize_session=False)
    )
    if alert_ids is not None:
        statement = statement.where(Alert.id.in_(alert_ids))
    return sorted(session.execute(statement).scalars())


def _check_resendable(session: Session, alert_ids: Sequence[int]) -> None:
    rows = session.execute(
        select(Alert.id, Alert.status, Subscription.active)
        .join(Subscription, Subscription.id == Alert.subscription_id)
        .where(Alert.id.in_(alert_ids))
    ).all()
    found = {alert_id: (status, active) for alert_id, status, active in rows}
    for alert_id in alert_ids:
        if alert_id not in found:
            raise ResendError(f"no alert {alert_id}")
        status, active = found[alert_id]
        if not active:
            raise ResendError(f"alert {alert_id} belongs to a removed subscription")
        if status not in ("failed", "pending"):
            raise ResendError(f"alert {alert_id} is {status}; only failed or pending alerts are re-sent")
