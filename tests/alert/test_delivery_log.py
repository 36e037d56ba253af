"""What a delivery logs: one line per attempt, saying whether the alert was sent, will be retried
(and when, in the schedule's units) or failed, and never the subscription's secret."""

from __future__ import annotations

import logging

import pytest

from alert_service.delivery import deliver_alert
from alert_service.settings import AlertSettings
from tests.alert.helpers import NOW, MessageFactory, add_subscription, store
from tests.peers import HttpPeer, error


def test_a_failed_webhook_logs_when_it_is_retried(
    database_url: str,
    settings: AlertSettings,
    receiver: HttpPeer,
    make_message: MessageFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    created = add_subscription(database_url, "webhook", receiver.url("/hook"), ["strikes"])
    [alert_id] = store(database_url, make_message())
    receiver.script("/hook", error(500), error(500))
    five_minutes = settings.model_copy(update={"retry_schedule": "5m"})
    caplog.set_level(logging.INFO, logger="alert_service.delivery")
    assert deliver_alert(database_url, alert_id, settings=five_minutes, clock=lambda: NOW) == "pending"
    [record] = [r for r in caplog.records if r.name == "alert_service.delivery"]
    assert (record.getMessage(), record.levelname) == ("alert.retrying", "WARNING")
    assert record.__dict__["retry_in"] in {"4m", "5m", "6m"}, "5 min within the ±20 % jitter"
    assert record.__dict__["alert_id"] == alert_id and "500" in record.__dict__["detail"]
    assert created.secret and created.secret not in caplog.text
