"""Holding a batch's alerts (alert_service.digests.hold_alerts): each subscription's alerts wait in
its own digest, or are sent at once, whatever else the batch holds."""

from __future__ import annotations

from datetime import timedelta

from alert_service.digests import hold_alerts
from alert_service.store import store_batch
from shared.db import session_scope
from tests.alert.helpers import NOW
from tests.alert.test_digests import DAY, IRAQ, SYRIA, _alerts, _digests, _subscribe


def test_a_batch_holds_each_subscriptions_alerts_in_its_own_place(database_url: str) -> None:
    digest = _subscribe(database_url, "email", "analyst@example.org", digest="daily@08:00")
    immediate = _subscribe(database_url, "email", "desk@example.org")
    when = NOW + timedelta(minutes=1)
    with session_scope(database_url) as session:
        created = store_batch(session, [IRAQ, SYRIA], now=when)
        at_once = hold_alerts(session, created, now=when, day=DAY)
    alerts = _alerts(database_url)
    assert len(created) == 4
    [period] = _digests(database_url)
    assert (period.subscription_id, period.kind) == (digest.id, "digest")
    assert {alert.id for alert in alerts if alert.digest_id == period.id} == {
        alert.id for alert in alerts if alert.subscription_id == digest.id
    }
    assert at_once == sorted(alert.id for alert in alerts if alert.subscription_id == immediate.id)
    assert len(at_once) == 2
