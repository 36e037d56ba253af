"""Claims, leases, the retry policy and the sweep: each alert is sent once, failures retried."""

from __future__ import annotations

from datetime import timedelta

from alert_service.content import AlertContent
from alert_service.delivery import claim_alert, deliver_alert, dispatch_due
from alert_service.settings import AlertSettings
from alert_service.subscriptions import remove_subscription
from shared.db import session_scope
from tests.alert.helpers import NOW, MessageFactory, add_subscription, alert, at, attempts, make_due, store
from tests.peers import HttpPeer, error


def _alert(url: str, make_message: MessageFactory, target: str = "https://hooks.example.org/a") -> int:
    add_subscription(url, "webhook", target, ["strikes"])
    [alert_id] = store(url, make_message())
    return alert_id


def test_a_claimed_alert_cannot_be_claimed_twice(database_url: str, make_message: MessageFactory) -> None:
    alert_id = _alert(database_url, make_message)
    with session_scope(database_url) as session:
        first = claim_alert(session, alert_id, now=NOW, lease_seconds=120)
    with session_scope(database_url) as session:
        second = claim_alert(session, alert_id, now=NOW + timedelta(seconds=119), lease_seconds=120)
    assert first is not None
    assert first.attempt == 1
    assert second is None
    assert alert(database_url, alert_id).status == "sending"


def test_an_expired_lease_is_reclaimable(database_url: str, make_message: MessageFactory) -> None:
    alert_id = _alert(database_url, make_message)
    with session_scope(database_url) as session:
        claim_alert(session, alert_id, now=NOW, lease_seconds=120)
    with session_scope(database_url) as session:
        again = claim_alert(session, alert_id, now=NOW + timedelta(seconds=121), lease_seconds=120)
    assert again is not None
    assert again.attempt == 2
    rows = attempts(database_url, alert_id)
    assert [(row.attempt, row.outcome) for row in rows] == [(1, "retry"), (2, None)]
    assert (rows[0].detail or "").startswith("abandoned")


def test_an_alert_not_yet_due_is_not_claimed(database_url: str, make_message: MessageFactory) -> None:
    alert_id = _alert(database_url, make_message)
    make_due(database_url, alert_id, at(1))
    with session_scope(database_url) as session:
        assert claim_alert(session, alert_id, now=NOW, lease_seconds=120) is None


def test_a_delivered_alert_is_not_sent_again(
    database_url: str, settings: AlertSettings, receiver: HttpPeer, make_message: MessageFactory
) -> None:
    alert_id = _alert(database_url, make_message, receiver.url("/a"))
    assert deliver_alert(database_url, alert_id, settings=settings, clock=lambda: NOW) == "delivered"
    assert deliver_alert(database_url, alert_id, settings=settings, clock=lambda: at(5)) is None
    assert len(receiver.received()) == 1


def test_a_failing_subscriber_does_not_block_another(
    database_url: str, settings: AlertSettings, receiver: HttpPeer, make_message: MessageFactory
) -> None:
    receiver.route("/broken", error(500))
    add_subscription(database_url, "webhook", receiver.url("/broken"), ["strikes"])
    add_subscription(database_url, "webhook", receiver.url("/fine"), ["strikes"])
    broken_id, fine_id = store(database_url, make_message())
    results = [
        deliver_alert(database_url, i, settings=settings, clock=lambda: NOW) for i in (broken_id, fine_id)
    ]
    assert results == ["pending", "delivered"]
    assert len(receiver.received("/fine")) == 1


def test_a_crashing_sender_counts_as_an_attempt_and_does_not_stop_others(
    database_url: str, settings: AlertSettings, make_message: MessageFactory
) -> None:
    add_subscription(database_url, "webhook", "https://hooks.example.org/a", ["strikes"])
    add_subscription(database_url, "email", "b@example.org", ["strikes"])
    webhook_id, email_id = store(database_url, make_message())

    def crash(content: AlertContent, settings: AlertSettings) -> str:
        raise KeyError("bug")

    senders = {"webhook": crash, "email": lambda content, settings: "SMTP accepted"}
    assert (
        deliver_alert(database_url, webhook_id, settings=settings, clock=lambda: NOW, senders=senders)
        == "pending"
    )
    assert (
        deliver_alert(database_url, email_id, settings=settings, clock=lambda: NOW, senders=senders)
        == "delivered"
    )
    assert "KeyError" in (alert(database_url, webhook_id).last_error or "")


def test_retries_stop_after_max_attempts(
    database_url: str, settings: AlertSettings, receiver: HttpPeer, make_message: MessageFactory
) -> None:
    receiver.route("/a", error(500))
    alert_id = _alert(database_url, make_message, receiver.url("/a"))
    three = settings.model_copy(update={"max_attempts": 3})
    results = [
        deliver_alert(database_url, alert_id, settings=three, clock=lambda h=h: at(h)) for h in (0, 2, 4, 6)
    ]
    assert results == ["pending", "pending", "failed", None]
    assert (alert(database_url, alert_id).last_error or "").startswith("gave up after 3 attempts")
    assert [row.outcome for row in attempts(database_url, alert_id)] == ["retry", "retry", "failed"]


def test_a_removed_subscription_gets_none_of_its_pending_alerts(
    database_url: str, settings: AlertSettings, receiver: HttpPeer, make_message: MessageFactory
) -> None:
    subscription = add_subscription(database_url, "webhook", receiver.url("/a"), ["strikes"])
    [alert_id] = store(database_url, make_message())
    with session_scope(database_url) as session:
        assert remove_subscription(session, subscription.id) == 1
    assert deliver_alert(database_url, alert_id, settings=settings, clock=lambda: NOW) is None
    assert receiver.received() == []
    record = alert(database_url, alert_id)
    assert (record.status, record.last_error) == ("failed", "subscription removed")


def test_sweep_finds_due_retries_and_expired_leases_once_per_redispatch_period(
    database_url: str, settings: AlertSettings, make_message: MessageFactory
) -> None:
    add_subscription(database_url, "webhook", "https://hooks.example.org/a", ["strikes"])
    add_subscription(database_url, "webhook", "https://hooks.example.org/b", ["strikes"])
    add_subscription(database_url, "webhook", "https://hooks.example.org/c", ["strikes"])
    lost, stalled, later = store(database_url, make_message())
    with session_scope(database_url) as session:
        claim_alert(session, stalled, now=NOW, lease_seconds=120)
    make_due(database_url, later, at(1))

    def sweep(seconds: float) -> list[int]:
        with session_scope(database_url) as session:
            return dispatch_due(session, now=NOW + timedelta(seconds=seconds), settings=settings)

    assert sweep(1) == []  # the store task just sent their messages
    assert sweep(61) == [lost]  # message lost: sent again after redispatch_seconds
    assert sweep(62) == []
    assert sweep(120.5) == [stalled]  # its worker died: the lease expired
    assert sorted(sweep(3601)) == [lost, stalled, later]


def test_sweep_fails_an_alert_whose_worker_died_on_the_last_attempt(
    database_url: str, settings: AlertSettings, make_message: MessageFactory
) -> None:
    alert_id = _alert(database_url, make_message)
    one = settings.model_copy(update={"max_attempts": 1})
    with session_scope(database_url) as session:
        claim_alert(session, alert_id, now=NOW, lease_seconds=120)
    with session_scope(database_url) as session:
        assert dispatch_due(session, now=at(1), settings=one) == []
    assert alert(database_url, alert_id).status == "failed"
