"""Celery entry points of the alert service: store a classified article, deliver one alert, sweep.

Thin doorways: each validates its message, calls one plain function and sends the next step after
the transaction commits. Delivery retries are rows (``next_attempt_at``) that the sweep picks up,
not Celery retries; a lost delivery message is picked up by the sweep too.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import OperationalError

from alert_service.delivery import deliver_alert as deliver
from alert_service.delivery import dispatch_due
from alert_service.settings import alert_settings
from alert_service.store import store_classified as store
from shared.celery_app import create_celery_app, send_message
from shared.db import session_scope, utc_now
from shared.messages import ArticleClassified, ArticleStored, DeliveryRequested
from shared.task_names import CONFIRM_STORED, DELIVER_ALERT, STORE_CLASSIFIED, SWEEP_DELIVERIES

log = logging.getLogger(__name__)

app = create_celery_app("alert")

# A database that is briefly unreachable is worth waiting for; a bad message is not.
DATABASE_RETRY: dict[str, Any] = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
    "retry_backoff_max": 300,
    "max_retries": 10,
}


def _send_deliveries(alert_ids: list[int]) -> None:
    for alert_id in alert_ids:
        send_message(app, DELIVER_ALERT, DeliveryRequested(alert_id=alert_id))


@app.task(name=STORE_CLASSIFIED, **DATABASE_RETRY)
def store_classified(payload: dict[str, Any]) -> None:
    """Store a classified article and request delivery of its new alerts. Safe to run twice."""
    message = ArticleClassified.from_payload(payload)
    with session_scope(alert_settings().resolved_database_url) as session:
        alert_ids = store(session, message)
    send_message(app, CONFIRM_STORED, ArticleStored(article_id=message.article.article_id))
    _send_deliveries(alert_ids)


@app.task(name=DELIVER_ALERT, **DATABASE_RETRY)
def deliver_alert(payload: dict[str, Any]) -> None:
    """Claim and send one alert; a second message for it finds nothing to claim."""
    request = DeliveryRequested.from_payload(payload)
    settings = alert_settings()
    deliver(settings.resolved_database_url, request.alert_id, settings=settings)


@app.task(name=SWEEP_DELIVERIES, **DATABASE_RETRY)
def sweep_deliveries() -> None:
    """Request delivery of due retries, lost messages and alerts whose worker died mid-send."""
    settings = alert_settings()
    with session_scope(settings.resolved_database_url) as session:
        alert_ids = dispatch_due(session, now=utc_now(), settings=settings)
    if alert_ids:
        log.info("alerts.swept", extra={"alert_ids": alert_ids})
    _send_deliveries(alert_ids)
