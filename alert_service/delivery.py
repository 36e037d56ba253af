"""Delivering alerts exactly once, retrying what fails.

An alert is claimed before it is sent: one conditional UPDATE moves it from 'pending' (and due) to
'sending' with a lease, and the claim is committed before anything leaves the process. Only the
worker holding the claim sends; a claim whose lease expired belongs to a worker that died mid-send
and may be taken again. Each claim counts an attempt and writes a :class:`DeliveryAttempt` row; the
outcome is recorded only while the claim is still ours (the attempt number fences it).

Alerts are delivered in batches (:func:`deliver_alerts`): up to :data:`MAX_DELIVERIES` claimed in one
transaction, sent together, each in a thread of its own under its own deadline (a receiver that is
slow or down holds up no other alert, and the batch takes no longer than one send may, which the
lease outlives), and their outcomes recorded in waves: what ended within :data:`WAVE_SECONDS` of the
first send to end, in one transaction, then the next. Fast receivers make one wave of a batch; a slow
one is recorded on its own, later, and a crash while it is on the wire sends again only what was not
yet recorded, not the batch. A lone alert is sent in the calling thread.

Retries are rows, not Celery retries: a retryable failure puts the alert back to 'pending' with a
``next_attempt_at`` taken from the retry schedule (Standard Webhooks': 5 s, 5 min, 30 min, 2 h, 5 h,
then every 10 h, with jitter: about three days in all), or later if the receiver asked so
(Retry-After); the sweep dispatches it when due. An operator re-sends a failed alert with
:func:`resend_alerts` (``rasid alerts retry``): due now, with the whole schedule again.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Final, Literal, cast

from pydantic import ValidationError
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
    tuple_,
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
from shared.messages import MAX_DELIVERIES

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
    claims = _lease(session, statement, [row_id], lease_until=now + timedelta(seconds=lease_seconds))
    return claims[0] if claims else None


def _lease_statement(
    model: Deliverable,
    *,
    condition: ColumnElement[bool],
    resent_after: ColumnElement[int] | InstrumentedAttribute[int],
) -> Update:
    """:func:`take_lease`'s UPDATE, with the rows' ids and the lease's end as parameters."""
    rows = _table(model)
    return (
        update(rows)
        .where(rows.c.id.in_(bindparam("row_ids", expanding=True)), condition)
        .values(
            status="sending",
            lease_until=bindparam("lease_end", type_=UTCDateTime()),
            attempts=rows.c.attempts + 1,
        )
        .returning(rows.c.id, rows.c.attempts, resent_after)
    )


def _lease(
    session: Session, statement: Update, row_ids: Sequence[int], *, lease_until: datetime, **params: object
) -> list[Claim]:
    """The claims :func:`_lease_statement` took of ``row_ids``, in the order of their ids."""
    rows = session.execute(statement, {"row_ids": list(row_ids), "lease_end": lease_until, **params})
    claims = [
        Claim(alert_id=int(row_id), attempt=int(attempt), resent_after=int(resent))
        for row_id, attempt, resent in rows
    ]
    return sorted(claims, key=lambda claim: claim.alert_id)


@cache
def _alert_lease_statement() -> Update:
    # Built once: an alert is claimed on every delivery, and building the statement (and its cache
    # key) took as long as running it.
    return _lease_statement(
        Alert, condition=_alert_claimable(_NOW), resent_after=ALERTS.c.attempts_before_resend
    )


def claim_alert(session: Session, alert_id: int, *, now: datetime, lease_seconds: float) -> Claim | None:
    """Claim a due (or abandoned) alert for sending; None when it is not ours to send."""
    claims = claim_alerts(session, [alert_id], now=now, lease_seconds=lease_seconds)
    return claims[0] if claims else None


def claim_alerts(
    session: Session, alert_ids: Sequence[int], *, now: datetime, lease_seconds: float
) -> list[Claim]:
    """Claim the due (or abandoned) alerts of ``alert_ids`` for sending, in the order of their ids;
    those not ours to send are left out."""
    lease_until = now + timedelta(seconds=lease_seconds)
    claims = _lease(session, _alert_lease_statement(), alert_ids, lease_until=lease_until, claim_now=now)
    # Only an alert tried before can have an attempt that its worker left without an outcome.
    tried_before = [claim.alert_id for claim in claims if claim.attempt > 1]
    if tried_before:
        _close_abandoned_attempts(session, tried_before, now=now)
    if claims:
        started = [{"alert_id": c.alert_id, "attempt": c.attempt, "started_at": now} for c in claims]
        session.execute(_START_ATTEMPT, started)
    return claims


def _close_abandoned_attempts(session: Session, alert_ids: Sequence[int], *, now: datetime) -> None:
    session.execute(
        update(DeliveryAttempt)
        .where(DeliveryAttempt.alert_id.in_(alert_ids), DeliveryAttempt.outcome.is_(None))
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


def record_outcomes(
    session: Session, ended: Sequence[tuple[Claim, Outcome]], *, now: datetime, policy: RetryPolicy
) -> list[dict[str, object]]:
    """Record how each claimed attempt ended and move its alert on; returns the columns each alert
    took (:func:`next_state`), its new status among them. Attempts that ended alike (a batch one
    receiver took, say) are recorded together: one statement for their alerts, one for their
    attempts."""
    states = [next_state(claim, outcome=outcome, now=now, policy=policy) for claim, outcome in ended]
    alike: dict[tuple[tuple[tuple[str, object], ...], tuple[tuple[str, object], ...]], list[Claim]] = {}
    for (claim, outcome), values in zip(ended, states, strict=True):
        attempt_outcome = "failed" if values["status"] == "failed" else outcome.kind
        finished = {"finished_at": now, "outcome": attempt_outcome, "detail": outcome.detail[:2000]}
        alike.setdefault((tuple(values.items()), tuple(finished.items())), []).append(claim)
    for (alert_columns, attempt_columns), claims in alike.items():
        _record_alike(session, claims, values=dict(alert_columns), finished=dict(attempt_columns))
    return states


def _record_alike(
    session: Session, claims: Sequence[Claim], *, values: dict[str, object], finished: dict[str, object]
) -> None:
    claimed = [(claim.alert_id, claim.attempt) for claim in claims]
    recorded = set(session.execute(_RECORD_ALERT_OUTCOMES, {"claimed": claimed, **values}).scalars())
    session.execute(_FINISH_ATTEMPTS, {"claimed": claimed, **finished})
    for claim in claims:
        if claim.alert_id not in recorded:
            log.warning("alert.claim_lost", extra={"alert_id": claim.alert_id, "attempt": claim.attempt})


# Both set the columns their parameters name, besides the claims' (Core updates, built once: they run
# for every delivery). The alerts' is fenced: it changes an alert only while the claim is ours.
_RECORD_ALERT_OUTCOMES = (
    update(ALERTS)
    .where(
        tuple_(ALERTS.c.id, ALERTS.c.attempts).in_(bindparam("claimed", expanding=True)),
        ALERTS.c.status == "sending",
    )
    .returning(ALERTS.c.id)
)
_FINISH_ATTEMPTS = update(ATTEMPTS).where(
    tuple_(ATTEMPTS.c.alert_id, ATTEMPTS.c.attempt).in_(bindparam("claimed", expanding=True))
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


def send_alerts(
    contents: Sequence[AlertContent], settings: AlertSettings, *, senders: Mapping[str, Sender]
) -> Iterator[list[tuple[int, Outcome]]]:
    """Send the alerts together, each in a thread of its own (a lone one in this thread), and say how
    each went (its position in ``contents`` and its outcome) in waves: the sends that ended within
    :data:`WAVE_SECONDS` of the first of a wave to end."""
    if len(contents) <= 1:
        if contents:
            yield [(0, send_alert(contents[0], settings, senders=senders))]
        return
    threads = _sending_threads()
    futures: dict[Future[Outcome], int] = {
        threads.submit(send_alert, content, settings, senders=senders): position
        for position, content in enumerate(contents)
    }
    pending = set(futures)
    while pending:
        ended, pending = wait(pending, return_when=FIRST_COMPLETED)
        if pending:
            more, pending = wait(pending, timeout=WAVE_SECONDS)
            ended |= more
        yield sorted((futures[future], future.result()) for future in ended)


# How long the other sends of a batch have to end after one has, to be recorded with it.
WAVE_SECONDS: Final = 0.05


def _sending_threads() -> ThreadPoolExecutor:
    """This process's threads that send a batch's alerts (keyed by process id: threads do not cross a
    fork). Started once: starting threads for each batch cost more than the sends' own work."""
    pid = os.getpid()
    executor = _EXECUTORS.get(pid)
    if executor is None:
        executor = _EXECUTORS[pid] = ThreadPoolExecutor(MAX_DELIVERIES, thread_name_prefix="rasid-send")
    return executor


_EXECUTORS: dict[int, ThreadPoolExecutor] = {}


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
    """Claim, send and record one alert: :func:`deliver_alerts` of one.

    Returns the alert's new status, or None when it was not claimable (already sent, not due,
    claimed by another worker, or its subscription was removed).
    """
    return deliver_alerts(database_url, [alert_id], settings=settings, clock=clock, senders=senders)[alert_id]


def deliver_alerts(
    database_url: str,
    alert_ids: Sequence[int],
    *,
    settings: AlertSettings,
    clock: Clock = utc_now,
    senders: Mapping[str, Sender] = SENDERS,
) -> dict[int, str | None]:
    """Claim, send and record alerts, :data:`MAX_DELIVERIES` at a time: a transaction, the sends with
    no transaction open, a transaction (the orchestrator opens its own, so it takes the database
    URL, not a session).

    Returns each alert's new status, None for one that was not claimable (already sent, not due,
    claimed by another worker, or its subscription was removed).
    """
    statuses: dict[int, str | None] = dict.fromkeys(alert_ids)
    unique = list(statuses)
    for start in range(0, len(unique), MAX_DELIVERIES):
        chunk = unique[start : start + MAX_DELIVERIES]
        statuses.update(
            _deliver_together(database_url, chunk, settings=settings, clock=clock, senders=senders)
        )
    return statuses


def _deliver_together(
    database_url: str,
    alert_ids: Sequence[int],
    *,
    settings: AlertSettings,
    clock: Clock,
    senders: Mapping[str, Sender],
) -> dict[int, str]:
    """The new status of each alert of ``alert_ids`` that was claimed, sent together."""
    with session_scope(database_url) as session:
        claims = claim_alerts(session, alert_ids, now=clock(), lease_seconds=settings.delivery_lease_seconds)
        loaded = [_content_or_outcome(session, claim.alert_id) for claim in claims]
    for alert_id in sorted(set(alert_ids) - {claim.alert_id for claim in claims}):
        log.debug("alert.not_claimed", extra={"alert_id": alert_id})
    # Alerts whose content could not be read have their outcome already: recorded with the first wave.
    ready = [(position, item) for position, item in enumerate(loaded) if isinstance(item, Outcome)]
    sendable = [(position, item) for position, item in enumerate(loaded) if isinstance(item, AlertContent)]
    statuses: dict[int, str] = {}
    claimed = list(zip(claims, loaded, strict=True))
    policy = RetryPolicy.from_settings(settings)
    for wave in send_alerts([content for _, content in sendable], settings, senders=senders):
        ended = ready + [(sendable[index][0], outcome) for index, outcome in wave]
        ready = []
        statuses.update(_record_wave(database_url, claimed, ended, policy=policy, clock=clock))
    if ready:
        statuses.update(_record_wave(database_url, claimed, ready, policy=policy, clock=clock))
    return statuses


def _record_wave(
    database_url: str,
    claimed: Sequence[tuple[Claim, AlertContent | Outcome]],
    ended: Sequence[tuple[int, Outcome]],
    *,
    policy: RetryPolicy,
    clock: Clock,
) -> dict[int, str]:
    """Record, in one transaction, the outcomes of the claims (with what each says) at the positions
    ``ended`` names; log each and say each alert's new status."""
    with session_scope(database_url) as session:
        pairs = [(claimed[position][0], outcome) for position, outcome in ended]
        states = record_outcomes(session, pairs, now=clock(), policy=policy)
    statuses = {}
    for (position, outcome), state in zip(ended, states, strict=True):
        claim, item = claimed[position]
        channel = item.channel if isinstance(item, AlertContent) else None
        _log_outcome(claim, channel=channel, state=state, detail=outcome.detail, now=clock())
        statuses[claim.alert_id] = str(state["status"])
    return statuses


def _content_or_outcome(session: Session, alert_id: int) -> AlertContent | Outcome:
    """What a claimed alert says or, when that cannot be read (its subscription's stored rule no longer
    validates), its attempt's outcome: counted and retried as a crashing sender's is, so the alert
    ends failed instead of failing, again and again, the batch it was claimed with."""
    try:
        return load_content(session, alert_id)
    except ValidationError as error:
        log.exception("alert.content_unreadable", extra={"alert_id": alert_id})
        return Outcome("retry", f"unreadable: {type(error).__name__}: {error}")


def _log_outcome(
    claim: Claim, *, channel: str | None, state: Mapping[str, object], detail: str, now: datetime
) -> None:
    """One line per attempt: ``alert.delivered``, ``alert.retrying`` (with when) or ``alert.failed``."""
    status = state["status"]
    extra: dict[str, object] = {
        "alert_id": claim.alert_id,
        "attempt": claim.attempt,
        "channel": channel,
        "detail": detail,
    }
    retry_at = state.get("next_attempt_at")
    if status == "pending" and isinstance(retry_at, datetime):
        extra["retry_in"] = _duration((retry_at - now).total_seconds())
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
