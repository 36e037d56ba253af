"""Celery entry points of the alert service: store classified articles, deliver one alert, sweep.

Thin doorways: each validates its message, calls one plain function through its module
(``store.store_batch``, ``delivery.deliver_alert``, ``digests.deliver_digest``) and sends the
next step after the transaction commits. ``alert.store_classified_batch`` stores a batch in one
transaction and confirms it to the ingest service in one message; ``alert.store_classified`` takes
one article, as messages queued by earlier versions do, and stores it as a batch of one. Each task
is named after its task name (``alert.deliver_alert`` is :func:`deliver_alert`).

Celery retries a task only when the database or the broker is unavailable (``TASK_OPTIONS``).
Delivery retries are rows (``next_attempt_at``) that the sweep picks up, not Celery retries; a lost
delivery message is picked up by the sweep too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from celery.signals import worker_init

from alert_service import delivery, digests, store
from alert_service.settings import alert_settings
from alert_service.stories import default_idf, places_of
from shared.celery_app import TASK_OPTIONS, create_celery_app, import_database_driver, send_message
from shared.db import session_scope, utc_now
from shared.messages import (
    ArticleClassified,
    ArticlesClassified,
    ArticlesStored,
    DeliveryRequested,
    DigestRequested,
)
from shared.task_names import (
    CONFIRM_STORED_BATCH,
    DELIVER_ALERT,
    DELIVER_DIGEST,
    STORE_CLASSIFIED,
    STORE_CLASSIFIED_BATCH,
    SWEEP_DELIVERIES,
    SWEEP_DIGESTS,
)

log = logging.getLogger(__name__)

app = create_celery_app("alert")


@worker_init.connect
def _load_before_fork(**_: Any) -> None:
    """Import the database driver and read the story IDF table and place names in the worker's main
    process, before the pool forks: each pool child did it on its first batch (about 0.1 s of CPU),
    and the children now share the pages."""
    settings = alert_settings()
    import_database_driver(settings.resolved_database_url)
    default_idf().idf("")
    places_of(settings.grouping.gazetteer_path)


def _send_deliveries(alert_ids: list[int]) -> None:
    if not alert_ids:
        return
    # Through one producer: taking one from the pool for each message cost a fifth of its send.
    with app.producer_or_acquire() as producer:
        for alert_id in alert_ids:
            send_message(app, DELIVER_ALERT, DeliveryRequested(alert_id=alert_id), producer=producer)


@app.task(name=STORE_CLASSIFIED_BATCH, **TASK_OPTIONS)
def store_classified_batch(payload: dict[str, Any]) -> None:
    """Store a batch of classified articles, confirm them and request delivery of their new alerts.
    Safe to run twice."""
    _store_and_confirm(ArticlesClassified.from_payload(payload).items)


@app.task(name=STORE_CLASSIFIED, **TASK_OPTIONS)
def store_classified(payload: dict[str, Any]) -> None:
    """Store one classified article, as a batch of one. Safe to run twice."""
    _store_and_confirm([ArticleClassified.from_payload(payload)])


def _store_and_confirm(items: Sequence[ArticleClassified]) -> None:
    settings = alert_settings()
    with session_scope(settings.resolved_database_url) as session:
        created = store.store_batch(session, items, grouping=settings.grouping)
        # Alerts of digest subscriptions, or in quiet hours, wait for their digest.
        alert_ids = digests.hold_alerts(session, created, now=utc_now(), day=settings.digest_day)
    article_ids = tuple(dict.fromkeys(item.article.article_id for item in items))
    send_message(app, CONFIRM_STORED_BATCH, ArticlesStored(article_ids=article_ids))
    _send_deliveries(alert_ids)


@app.task(name=DELIVER_ALERT, **TASK_OPTIONS)
def deliver_alert(payload: dict[str, Any]) -> None:
    """Claim and send one alert; a second message for it finds nothing to claim."""
    request = DeliveryRequested.from_payload(payload)
    settings = alert_settings()
    delivery.deliver_alert(settings.resolved_database_url, request.alert_id, settings=settings)


@app.task(name=SWEEP_DELIVERIES, **TASK_OPTIONS)
def sweep_deliveries() -> None:
    """Request delivery of due retries, lost messages and alerts whose worker died mid-send."""
    settings = alert_settings()
    with session_scope(settings.resolved_database_url) as session:
        alert_ids = delivery.dispatch_due(session, now=utc_now(), settings=settings)
    if alert_ids:
        log.debug("alerts.swept", extra={"alert_ids": alert_ids})
    _send_deliveries(alert_ids)


@app.task(name=DELIVER_DIGEST, **TASK_OPTIONS)
def deliver_digest(payload: dict[str, Any]) -> None:
    """Claim and send one digest; a second message for it finds nothing to claim."""
    request = DigestRequested.from_payload(payload)
    settings = alert_settings()
    digests.deliver_digest(settings.resolved_database_url, request.digest_id, settings=settings)


@app.task(name=SWEEP_DIGESTS, **TASK_OPTIONS)
def sweep_digests() -> None:
    """Request delivery of digests whose period ended, due retries and stalled sends."""
    settings = alert_settings()
    with session_scope(settings.resolved_database_url) as session:
        digest_ids = digests.dispatch_due_digests(session, now=utc_now(), settings=settings)
    for digest_id in digest_ids:
        send_message(app, DELIVER_DIGEST, DigestRequested(digest_id=digest_id))
