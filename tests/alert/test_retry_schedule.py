"""Failed deliveries are retried for about three days on a schedule like Standard Webhooks' (5 s,
5 min, 30 min, 2 h, 5 h, then every 10 h), a receiver's Retry-After is honoured, and an operator can
re-send failed alerts (``rasid alerts retry``)."""

from __future__ import annotations

import random
from datetime import timedelta
from email.utils import format_datetime

import httpx
import pytest

from alert_service.delivery import RetryPolicy, deliver_alert, dispatch_due
from alert_service.errors import RetryableDeliveryError
from alert_service.settings import AlertSettings
from alert_service.webhook import check_response
from shared.db import session_scope, utc_now
from shared.errors import ConfigurationError
from shared.settings import load_settings
from tests.alert.helpers import NOW, MessageFactory, add_subscription, alert, attempts, store
from tests.commands import json_rows, run
from tests.peers import ACCEPT, HttpPeer, Reply, Request, error

HOUR = 3600.0


def _alert(url: str, make_message: MessageFactory, target: str) -> int:
    add_subscription(url, "webhook", target, ["strikes"])
    [alert_id] = store(url, make_message())
    return alert_id


def test_the_default_schedule_retries_for_about_three_days() -> None:
    settings = AlertSettings(_env_file=None)  # type: ignore[call-arg]
    policy = RetryPolicy.from_settings(settings)
    steps = [policy.step(attempt) for attempt in range(1, settings.max_attempts)]
    assert steps[:6] == [5, 300, 1800, 2 * HOUR, 5 * HOUR, 10 * HOUR]
    assert set(steps[6:]) == {10 * HOUR}
    assert 2.5 * 24 * HOUR <= sum(steps) <= 3.5 * 24 * HOUR


def test_jitter_stays_near_each_step() -> None:
    policy = RetryPolicy(steps=(5.0, 300.0), max_attempts=12, rng=random.Random(7))
    delays = [policy.delay(2) for _ in range(500)]
    assert all(240 <= delay <= 360 for delay in delays)
    assert max(delays) - min(delays) > 60
    assert all(240 <= policy.delay(attempt) <= 360 for attempt in (3, 11, 500))  # the last step repeats


def test_an_outage_of_two_hours_loses_no_alert(
    database_url: str, settings: AlertSettings, receiver: HttpPeer, make_message: MessageFactory
) -> None:
    clock = [NOW]
    back_at = NOW + timedelta(hours=2)

    def outage(request: Request) -> Reply:
        return (ACCEPT if clock[0] >= back_at else error(503))(request)

    receiver.route("/hook", outage)
    alert_id = _alert(database_url, make_message, receiver.url("/hook"))
    status = deliver_alert(database_url, alert_id, settings=settings, clock=lambda: clock[0])
    while status == "pending":
        clock[0] = alert(database_url, alert_id).next_attempt_at
        status = deliver_alert(database_url, alert_id, settings=settings, clock=lambda: clock[0])
    assert status == "delivered"
    assert len(receiver.received("/hook")) == len(attempts(database_url, alert_id)) >= 4


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_seconds_or_as_a_date_is_honoured(status: int) -> None:
    later = utc_now() + timedelta(seconds=600)
    for value in ("600", format_datetime(later, usegmt=True)):
        with pytest.raises(RetryableDeliveryError) as caught:
            check_response(httpx.Response(status, headers={"retry-after": value}))
        assert caught.value.retry_after is not None
        assert 590 <= caught.value.retry_after <= 600


@pytest.mark.parametrize("value", ["", "soon", "-5", "Wed, 99 Foo 2026 00:00:00 GMT"])
def test_a_retry_after_that_is_no_time_is_ignored(value: str) -> None:
    with pytest.raises(RetryableDeliveryError) as caught:
        check_response(httpx.Response(503, headers={"retry-after": value}))
    assert caught.value.retry_after is None


def test_retry_after_is_only_read_on_429_and_503() -> None:
    with pytest.raises(RetryableDeliveryError) as caught:
        check_response(httpx.Response(500, headers={"retry-after": "600"}))
    assert caught.value.retry_after is None


def test_retry_after_is_honoured_up_to_the_longest_step() -> None:
    policy = RetryPolicy(steps=(5.0, 60.0), max_attempts=12, rng=random.Random(7))
    assert policy.delay(1, retry_after=30) == 30
    assert policy.delay(1, retry_after=7 * 24 * HOUR) == 60


def test_the_schedule_is_compressible_for_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASID_RETRY_SCHEDULE", "0.5,1")
    assert load_settings(AlertSettings).retry_steps == (0.5, 1.0)
    monkeypatch.setenv("RASID_RETRY_SCHEDULE", "5s, 5m,2h,1d")
    assert load_settings(AlertSettings).retry_steps == (5.0, 300.0, 7200.0, 86400.0)
    for bad in ("", "5,soon", "5,-1", "0"):
        monkeypatch.setenv("RASID_RETRY_SCHEDULE", bad)
        with pytest.raises(ConfigurationError, match="RASID_RETRY_SCHEDULE"):
            load_settings(AlertSettings)


def _fail(url: str, alert_id: int, settings: AlertSettings) -> None:
    once = settings.model_copy(update={"max_attempts": 1})
    assert deliver_alert(url, alert_id, settings=once, clock=lambda: NOW) == "failed"


def test_an_operator_resends_a_failed_alert(
    database_url: str, settings: AlertSettings, receiver: HttpPeer, make_message: MessageFactory
) -> None:
    receiver.script("/hook", error(500), error(500))
    alert_id = _alert(database_url, make_message, receiver.url("/hook"))
    _fail(database_url, alert_id, settings)
    [row] = json_rows(database_url, "alerts", "retry", str(alert_id))
    assert (row["id"], row["status"], row["attempts"]) == (alert_id, "pending", 1)
    with session_scope(database_url) as session:
        assert dispatch_due(session, now=utc_now(), settings=settings) == [alert_id]
    # A re-sent alert starts its schedule again: one more failure does not fail it.
    assert deliver_alert(database_url, alert_id, settings=settings) == "pending"
    record = alert(database_url, alert_id)
    assert deliver_alert(database_url, alert_id, settings=settings, clock=lambda: record.next_attempt_at) == (
        "delivered"
    )
    rows = attempts(database_url, alert_id)
    assert [(row.attempt, row.outcome) for row in rows] == [(1, "failed"), (2, "retry"), (3, "delivered")]


def test_an_operator_resends_every_failed_alert(
    database_url: str, settings: AlertSettings, receiver: HttpPeer, make_message: MessageFactory
) -> None:
    receiver.route("/hook", error(500))
    add_subscription(database_url, "webhook", receiver.url("/hook"), ["strikes"])
    add_subscription(database_url, "webhook", receiver.url("/other"), ["strikes"])
    failed, delivered = store(database_url, make_message())
    _fail(database_url, failed, settings)
    assert deliver_alert(database_url, delivered, settings=settings, clock=lambda: NOW) == "delivered"
    human = run(database_url, "alerts", "retry", "--failed")
    assert human.exit_code == 0, human.output
    assert f"alert {failed}: pending" in human.output
    assert alert(database_url, failed).status == "pending"
    assert alert(database_url, delivered).status == "delivered"
    assert json_rows(database_url, "alerts", "retry", "--failed") == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["999"], "no alert 999"),
        ([], "give an alert id or --failed"),
        (["1", "--failed"], "give an alert id or --failed"),
    ],
)
def test_retry_refuses_what_it_cannot_resend(database_url: str, args: list[str], message: str) -> None:
    result = run(database_url, "alerts", "retry", *args)
    assert result.exit_code != 0
    assert message in result.output


def test_a_delivered_alert_is_not_resent(
    database_url: str, settings: AlertSettings, receiver: HttpPeer, make_message: MessageFactory
) -> None:
    alert_id = _alert(database_url, make_message, receiver.url("/hook"))
    assert deliver_alert(database_url, alert_id, settings=settings, clock=lambda: NOW) == "delivered"
    result = run(database_url, "alerts", "retry", str(alert_id))
    assert result.exit_code != 0
    assert f"alert {alert_id} is delivered" in result.output
