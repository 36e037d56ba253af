"""Holding alerts for digests and quiet hours, and delivering each digest exactly once.

An alert made for a subscription with an hourly or daily digest, or during its quiet hours, is held:
it names the :class:`Digest` row of its subscription and period (created on first need with
``INSERT ... ON CONFLICT DO NOTHING`` on the unique (subscription, period start)), and is never sent
alone. A period with no alert has no row, so it sends nothing. The digest sweep dispatches digests
whose period has ended; delivery claims a digest with a lease, sends it with no transaction open and
records the outcome, as :mod:`alert_service.delivery` does an alert, on the same retry schedule.
A delivered digest marks its alerts delivered; a failed one fails them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, literal, or_, select, update
from sqlalchemy.orm import Session

from alert_service.delivery import (
    Claim,
    Clock,
    Outcome,
    RetryPolicy,
    attempt_send,
    claimable,
    next_state,
    take_lease,
)
from alert_service.digest_content import DigestContent, build_digest_email, digest_payload, load_digest
from alert_service.mail import send_message
from alert_service.mailbox import file_message, mail_path
from alert_service.models import Alert, Digest, Subscription
from alert_service.schedules import Schedule, holding_period
from alert_service.settings import AlertSettings
from alert_service.webhook import SignedPost, post_signed
from shared.db import insert_ignore, session_scope, utc_now

log = logging.getLogger(__name__)

DIGESTS = cast(Table, Digest.__table__)
DigestSender = Callable[[DigestContent, AlertSettings], str]


def hold_alerts(session: Session, alert_ids: list[int], *, now: datetime, day: timedelta) -> list[int]:
    """Attach each new alert whose subscription holds it now to its digest; returns the alerts to
    send at once (the others wait for their digest)."""
    if not alert_ids:
        return []
    rows = session.execute(
        select(Alert.id, Alert.subscription_id, Subscription.schedule)
        .join(Subscription, Subscription.id == Alert.subscription_id)
        .where(Alert.id.in_(alert_ids))
    ).all()
    # Every alert of a subscription made now waits in the same place: its schedule is read, and its
    # digest found, once a subscription, and its alerts are attached in one statement.
    holders: dict[int, tuple[int, str] | None] = {}
    held: dict[tuple[int, str], list[int]] = {}
    immediate = []
    for alert_id, subscription_id, stored in rows:
        if subscription_id not in holders:
            holders[subscription_id] = _holder(session, subscription_id, stored, now=now, day=day)
        holder = holders[subscription_id]
        if holder is None:
            immediate.append(alert_id)
        else:
            held.setdefault(holder, []).append(alert_id)
    for (digest_id, kind), ids in held.items():
        session.execute(
            update(Alert)
            .where(Alert.id.in_(ids))
            .values(digest_id=digest_id)
            .execution_options(synchronize_session=False)
        )
        for alert_id in ids:
            log.info("alert.held", extra={"alert_id": alert_id, "digest_id": digest_id, "kind": kind})
    return sorted(immediate)


def _holder(
    session: Session, subscription_id: int, stored: dict[str, object] | None, *, now: datetime, day: timedelta
) -> tuple[int, str] | None:
    """The digest (its id and kind) that holds the subscription's alerts made ``now``, or None when
    they are sent at once."""
    if not stored:
        return None
    schedule = Schedule.model_validate(stored)
    period = holding_period(schedule, now, day=day)
    if period is None:
        return None
    kind = "quiet" if schedule.mode == "immediate" else "digest"
    digest_id = _digest_of(session, subscription_id, kind=kind, start=period.start, end=period.end, now=now)
    return digest_id, kind


def _digest_of(  # noqa: PLR0913 -- past the second, every argument is keyword-only and named
    session: Session, subscription_id: int, *, kind: str, start: datetime, end: datetime, now: datetime
) -> int:
    values = {
        "subscription_id": subscription_id,
        "kind": kind,
        "period_start": start,
        "period_end": end,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": end,
        "created_at": now,
    }
    insert_ignore(session, DIGESTS, values, conflict_columns=["subscription_id", "period_start"])
    return int(
        session.execute(
            select(Digest.id).where(Digest.subscription_id == subscription_id, Digest.period_start == start)
        ).scalar_one()
    )


def claim_digest(session: Session, digest_id: int, *, now: datetime, lease_seconds: float) -> Claim | None:
    """Claim a due (or abandoned) digest for sending; None when it is not ours to send."""
    return take_lease(
        session,
        Digest,
        digest_id,
        now=now,
        lease_seconds=lease_seconds,
        condition=claimable(Digest, now),
        resent_after=literal(0),
    )


def record_digest_outcome(
    session: Session, claim: Claim, *, outcome: Outcome, now: datetime, policy: RetryPolicy
) -> str:
    """Record how the attempt ended and move the digest and its alerts on; returns the new status."""
    values = next_state(claim, outcome=outcome, now=now, policy=policy)
    result = session.execute(
        update(Digest)
        .where(Digest.id == claim.alert_id, Digest.status == "sending", Digest.attempts == claim.attempt)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        log.warning("digest.claim_lost", extra={"digest_id": claim.alert_id, "attempt": claim.attempt})
        return str(values["status"])
    status = str(values["status"])
    if status in ("delivered", "failed"):
        session.execute(
            update(Alert)
            .where(Alert.digest_id == claim.alert_id, Alert.status == "pending")
            .values(
                status=status,
                attempts=claim.attempt,
                delivered_at=now if status == "delivered" else None,
                last_error=None if status == "delivered" else f"digest {claim.alert_id}: {outcome.detail}",
            )
            .execution_options(synchronize_session=False)
        )
    return status


def send_digest_email(content: DigestContent, settings: AlertSettings) -> str:
    """The email channel of a digest: the SMTP server, or the local mailbox (``digest-N.eml``)."""
    if settings.smtp_host:
        return send_message(build_digest_email(content, sender=settings.smtp_from), settings)
    final = mail_path(settings.mailbox_folder, content.digest_id, "digest")
    return f"mailbox: {file_message(final, lambda: build_digest_email(content, sender=settings.smtp_from))}"


def send_digest_webhook(content: DigestContent, settings: AlertSettings) -> str:
    """The webhook channel of a digest: one signed POST listing its stories."""
    message = SignedPost(
        content.target, digest_payload(content), f"msg_digest_{content.digest_id}", content.secret
    )
    return post_signed(message, settings)


DIGEST_SENDERS: Mapping[str, DigestSender] = {"email": send_digest_email, "webhook": send_digest_webhook}


def send_digest(
    content: DigestContent, settings: AlertSettings, *, senders: Mapping[str, DigestSender]
) -> Outcome:
    """Send one digest through its channel and say how it went."""
    return attempt_send(
        lambda: senders[content.channel](content, settings),
        crash_event="digest.send_crashed",
        ids={"digest_id": content.digest_id},
    )


def deliver_digest(
    database_url: str,
    digest_id: int,
    *,
    settings: AlertSettings,
    clock: Clock = utc_now,
    senders: Mapping[str, DigestSender] = DIGEST_SENDERS,
) -> str | None:
    """Claim, send and record one digest (transaction, send, transaction); None when not claimable."""
    with session_scope(database_url) as session:
        claim = claim_digest(session, digest_id, now=clock(), lease_seconds=settings.delivery_lease_seconds)
        content = load_digest(session, digest_id) if claim else None
    if claim is None or content is None:
        return None
    outcome = send_digest(content, settings, senders=senders)
    with session_scope(database_url) as session:
        policy = RetryPolicy.from_settings(settings)
        status = record_digest_outcome(session, claim, outcome=outcome, now=clock(), policy=policy)
    event = "digest.retrying" if status == "pending" else f"digest.{status}"
    extra = {"digest_id": digest_id, "attempt": claim.attempt, "stories": len(content.stories)}
    log.log(
        logging.INFO if status == "delivered" else logging.WARNING,
        event,
        extra={**extra, "detail": outcome.detail},
    )
    return status


def dispatch_due_digests(session: Session, *, now: datetime, settings: AlertSettings) -> list[int]:
    """Digests to send a delivery message for: periods that ended, due retries, expired leases.
    Marks them dispatched so the next sweep does not send them again before ``redispatch_seconds``."""
    quiet_since = now - timedelta(seconds=settings.redispatch_seconds)
    digest_ids = list(
        session.execute(
            select(Digest.id)
            .where(
                claimable(Digest, now),
                or_(Digest.dispatched_at.is_(None), Digest.dispatched_at <= quiet_since),
            )
            .order_by(Digest.next_attempt_at, Digest.id)
            .limit(settings.sweep_batch)
        ).scalars()
    )
    if digest_ids:
        session.execute(
            update(Digest)
            .where(Digest.id.in_(digest_ids))
            .values(dispatched_at=now)
            .execution_options(synchronize_session=False)
        )
    return digest_ids
