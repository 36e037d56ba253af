"""Signed webhooks delivered to a real HTTP receiver: signature, retries, permanent failures."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from alert_service.delivery import deliver_alert
from alert_service.errors import PermanentDeliveryError, RetryableDeliveryError
from alert_service.settings import AlertSettings
from alert_service.webhook import check_response
from tests.alert.helpers import (
    NOW,
    MessageFactory,
    add_subscription,
    alert,
    at,
    attempts,
    load_fixture,
    store,
)
from tests.peers import ACCEPT, HttpPeer, delayed, error, free_port, redirect

STATUS_CASES = load_fixture("http_statuses.json")
PERMANENT = {410: error(410), 301: redirect("/moved", status=301), 404: error(404)}


def _webhook_alert(url: str, target: str, make_message: MessageFactory) -> tuple[int, str]:
    subscription = add_subscription(url, "webhook", target, ["strikes"])
    [alert_id] = store(url, make_message())
    assert subscription.secret is not None
    return alert_id, subscription.secret


def test_webhook_arrives_signed_and_verifies(
    database_url: str, settings: AlertSettings, receiver: HttpPeer, make_message: MessageFactory
) -> None:
    alert_id, secret = _webhook_alert(database_url, receiver.url("/hook"), make_message)
    assert deliver_alert(database_url, alert_id, settings=settings, clock=lambda: NOW) == "delivered"
    [request] = receiver.received("/hook")
    payload = Webhook(secret).verify(request.body, request.headers)
    message = make_message()
    assert payload["type"] == "article.tagged"
    assert payload["alert_id"] == alert_id
    assert payload["article"]["title"] == message.article.title
    assert payload["article"]["url"] == message.article.url
    assert [item["topic"] for item in payload["topics"]] == ["strikes", "withdrawal"]
    assert len(payload["evidence"]) == 3
    assert request.headers["webhook-id"] == f"msg_{message.article.article_id}_{payload['subscription_id']}"
    assert request.headers["user-agent"] == "Rasid/0.1"
    assert request.headers["content-type"] == "application/json"
    record = alert(database_url, alert_id)
    assert (record.status, record.attempts, record.delivered_at) == ("delivered", 1, NOW)


def test_a_tampered_body_does_not_verify(
    database_url: str, settings: AlertSettings, receiver: HttpPeer, make_message: MessageFactory
) -> None:
    alert_id, secret = _webhook_alert(database_url, receiver.url("/hook"), make_message)
    deliver_alert(database_url, alert_id, settings=settings, clock=lambda: NOW)
    [request] = receiver.received("/hook")
    tampered = request.body.replace(b"strikes", b"training")
    with pytest.raises(Exception, match="signature"):
        Webhook(secret).verify(tampered, request.headers)


def test_500_500_200_delivers_on_the_third_attempt_with_one_webhook_id(
    database_url: str, settings: AlertSettings, receiver: HttpPeer, make_message: MessageFactory
) -> None:
    receiver.script("/hook", error(500), error(500), ACCEPT)
    alert_id, secret = _webhook_alert(database_url, receiver.url("/hook"), make_message)
    statuses = [
        deliver_alert(database_url, alert_id, settings=settings, clock=lambda h=h: at(h)) for h in (0, 2, 4)
    ]
    assert statuses == ["pending", "pending", "delivered"]
    requests = receiver.received("/hook")
    assert len(requests) == 3
    assert len({request.headers["webhook-id"] for request in requests}) == 1
    for request in requests:
        Webhook(secret).verify(request.body, request.headers)
    rows = attempts(database_url, alert_id)
    assert [(row.attempt, row.outcome, row.detail) for row in rows] == [
        (1, "retry", "HTTP 500"),
        (2, "retry", "HTTP 500"),
        (3, "delivered", "HTTP 200"),
    ]


def test_a_retry_waits_for_its_backoff(
    database_url: str, settings: AlertSettings, receiver: HttpPeer, make_message: MessageFactory
) -> None:
    receiver.script("/hook", error(503))
    alert_id, _ = _webhook_alert(database_url, receiver.url("/hook"), make_message)
    deliver_alert(database_url, alert_id, settings=settings, clock=lambda: NOW)
    record = alert(database_url, alert_id)
    assert record.status == "pending"
    assert record.last_error == "HTTP 503"
    first_wait = settings.retry_steps[0]
    assert at(0.8 * first_wait / 3600) <= record.next_attempt_at <= at(1.2 * first_wait / 3600)
    assert deliver_alert(database_url, alert_id, settings=settings, clock=lambda: NOW) is None
    # Whatever the jitter drew, the retry is due once the first step and its jitter have passed.
    assert deliver_alert(database_url, alert_id, settings=settings, clock=lambda: at(0.01)) == "delivered"


@pytest.mark.parametrize("status", PERMANENT)
def test_permanent_statuses_fail_at_once_and_are_not_retried(
    database_url: str,
    settings: AlertSettings,
    receiver: HttpPeer,
    make_message: MessageFactory,
    status: int,
) -> None:
    receiver.script("/hook", PERMANENT[status])
    alert_id, _ = _webhook_alert(database_url, receiver.url("/hook"), make_message)
    assert deliver_alert(database_url, alert_id, settings=settings, clock=lambda: NOW) == "failed"
    assert deliver_alert(database_url, alert_id, settings=settings, clock=lambda: at(2)) is None
    assert len(receiver.received()) == 1  # a redirect is not followed
    record = alert(database_url, alert_id)
    assert record.last_error is not None
    assert record.last_error.startswith(f"HTTP {status}")
    assert [row.outcome for row in attempts(database_url, alert_id)] == ["failed"]


def test_refused_connection_is_retried(
    database_url: str, settings: AlertSettings, make_message: MessageFactory
) -> None:
    alert_id, _ = _webhook_alert(database_url, f"http://127.0.0.1:{free_port()}/hook", make_message)
    assert deliver_alert(database_url, alert_id, settings=settings, clock=lambda: NOW) == "pending"
    assert "ConnectError" in (alert(database_url, alert_id).last_error or "")


def test_timeout_is_retried(
    database_url: str, settings: AlertSettings, receiver: HttpPeer, make_message: MessageFactory
) -> None:
    receiver.route("/slow", delayed(ACCEPT, 0.5))
    alert_id, _ = _webhook_alert(database_url, receiver.url("/slow"), make_message)
    quick = settings.model_copy(update={"webhook_timeout": 0.1})
    assert deliver_alert(database_url, alert_id, settings=quick, clock=lambda: NOW) == "pending"
    assert "Timeout" in (alert(database_url, alert_id).last_error or "")


@pytest.mark.parametrize("case", STATUS_CASES, ids=lambda case: str(case["status"]))
def test_status_table(case: dict[str, Any]) -> None:
    response = httpx.Response(case["status"], headers={"location": "https://elsewhere.example.org/"})
    if case["outcome"] == "delivered":
        assert check_response(response) == f"HTTP {case['status']}"
        return
    expected = RetryableDeliveryError if case["outcome"] == "retry" else PermanentDeliveryError
    with pytest.raises(expected):
        check_response(response)


def test_retry_after_is_read_on_429() -> None:
    with pytest.raises(RetryableDeliveryError) as caught:
        check_response(httpx.Response(429, headers={"retry-after": "120"}))
    assert caught.value.retry_after == 120.0


def test_payload_is_json_with_arabic_as_written(
    database_url: str, settings: AlertSettings, receiver: HttpPeer, make_message: MessageFactory
) -> None:
    alert_id, _ = _webhook_alert(database_url, receiver.url("/hook"), make_message)
    deliver_alert(database_url, alert_id, settings=settings, clock=lambda: NOW)
    [request] = receiver.received("/hook")
    assert "غارات جوية".encode() in request.body
    assert json.loads(request.body)["article"]["published_at"] == "2026-11-20T02:30:00+00:00"
