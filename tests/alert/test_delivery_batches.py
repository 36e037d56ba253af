"""Alerts delivered together: claimed in one transaction, sent side by side, recorded in waves (what
ended together, in one transaction).

Each alert of a batch is still sent once, retried on its own and unaffected by another's receiver.
"""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import update

from alert_service.delivery import Outcome, RetryPolicy, claim_alerts, deliver_alerts, record_outcomes
from alert_service.models import Subscription
from alert_service.settings import AlertSettings
from shared.db import session_scope
from shared.messages import MAX_DELIVERIES
from tests.alert.helpers import NOW, MessageFactory, add_subscription, alert, at, attempts, make_due, store
from tests.peers import ACCEPT, HttpPeer, Reply, Request, error, wait_for


def _alerts(url: str, make_message: MessageFactory, targets: list[str]) -> list[int]:
    """One alert for each target, of one article, in the order of ``targets``."""
    for target in targets:
        add_subscription(url, "webhook", target, ["strikes"])
    return store(url, make_message())


def test_each_alert_of_a_batch_is_sent_once_and_has_its_own_outcome(
    database_url: str, settings: AlertSettings, receiver: HttpPeer, make_message: MessageFactory
) -> None:
    receiver.route("/broken", error(500))
    receiver.route("/gone", error(410))
    broken, gone, fine = _alerts(
        database_url, make_message, [receiver.url("/broken"), receiver.url("/gone"), receiver.url("/fine")]
    )
    statuses = deliver_alerts(database_url, [broken, gone, fine], settings=settings, clock=lambda: NOW)
    assert statuses == {broken: "pending", gone: "failed", fine: "delivered"}
    assert [len(receiver.received(path)) for path in ("/broken", "/gone", "/fine")] == [1, 1, 1]
    assert [[row.outcome for row in attempts(database_url, i)] for i in (broken, gone, fine)] == [
        ["retry"],
        ["failed"],
        ["delivered"],
    ]
    assert alert(database_url, broken).next_attempt_at is not None


def test_a_batch_sent_again_sends_nothing_and_skips_what_is_not_due(
    database_url: str, settings: AlertSettings, receiver: HttpPeer, make_message: MessageFactory
) -> None:
    first, later = _alerts(database_url, make_message, [receiver.url("/a"), receiver.url("/b")])
    make_due(database_url, later, at(1))
    assert deliver_alerts(database_url, [first, later], settings=settings, clock=lambda: NOW) == {
        first: "delivered",
        later: None,
    }
    again = deliver_alerts(database_url, [first, later, first], settings=settings, clock=lambda: NOW)
    assert again == {first: None, later: None}
    assert len(receiver.received("/a")) == 1
    assert receiver.received("/b") == []


def test_a_slow_receiver_does_not_hold_back_the_other_alerts_of_its_batch(
    database_url: str, settings: AlertSettings, receiver: HttpPeer, make_message: MessageFactory
) -> None:
    other_arrived = threading.Event()

    def slow(_request: Request) -> Reply:
        # Sent one after the other, the other alert would come only after this one gave up.
        return Reply(200 if other_arrived.wait(timeout=3) else 503)

    def fine(request: Request) -> Reply:
        other_arrived.set()
        return ACCEPT(request)

    receiver.route("/slow", slow)
    receiver.route("/fine", fine)
    slow_id, fine_id = _alerts(database_url, make_message, [receiver.url("/slow"), receiver.url("/fine")])
    statuses = deliver_alerts(database_url, [slow_id, fine_id], settings=settings, clock=lambda: NOW)
    assert statuses == {slow_id: "delivered", fine_id: "delivered"}


def test_what_was_sent_is_recorded_while_a_slow_receiver_of_its_batch_still_answers(
    database_url: str, settings: AlertSettings, receiver: HttpPeer, make_message: MessageFactory
) -> None:
    """A worker killed while a slow send is on the wire sends again only that one: the others of its
    batch were recorded as they ended."""
    recorded_meanwhile: list[str] = []
    fast_ids: list[int] = []

    def slow(_request: Request) -> Reply:
        wait_for(
            lambda: all(alert(database_url, i).status == "delivered" for i in fast_ids),
            timeout=5,
            what="the fast alerts recorded",
        )
        recorded_meanwhile.extend(alert(database_url, i).status for i in fast_ids)
        return Reply(200)

    receiver.route("/slow", slow)
    slow_id, *fast = _alerts(
        database_url, make_message, [receiver.url("/slow"), receiver.url("/a"), receiver.url("/b")]
    )
    fast_ids.extend(fast)
    statuses = deliver_alerts(database_url, [slow_id, *fast], settings=settings, clock=lambda: NOW)
    assert statuses == dict.fromkeys([slow_id, *fast], "delivered")
    assert recorded_meanwhile == ["delivered", "delivered"]


def test_more_alerts_than_one_batch_holds_are_each_delivered_once(
    database_url: str, settings: AlertSettings, receiver: HttpPeer, make_message: MessageFactory
) -> None:
    count = MAX_DELIVERIES + 3
    alert_ids = _alerts(database_url, make_message, [receiver.url(f"/{n}") for n in range(count)])
    statuses = deliver_alerts(database_url, alert_ids, settings=settings, clock=lambda: NOW)
    assert statuses == dict.fromkeys(alert_ids, "delivered")
    assert sorted(request.path for request in receiver.received()) == sorted(f"/{n}" for n in range(count))


def test_alerts_are_claimed_together_once(database_url: str, make_message: MessageFactory) -> None:
    alert_ids = _alerts(database_url, make_message, ["https://a.example.org/", "https://b.example.org/"])
    with session_scope(database_url) as session:
        claims = claim_alerts(session, list(reversed(alert_ids)), now=NOW, lease_seconds=120)
    with session_scope(database_url) as session:
        assert claim_alerts(session, alert_ids, now=NOW, lease_seconds=120) == []
    assert [(claim.alert_id, claim.attempt) for claim in claims] == [(i, 1) for i in sorted(alert_ids)]
    assert [[row.attempt for row in attempts(database_url, i)] for i in alert_ids] == [[1], [1]]


def test_outcomes_recorded_together_change_only_the_alerts_still_claimed(
    database_url: str, make_message: MessageFactory
) -> None:
    kept, lost = _alerts(database_url, make_message, ["https://a.example.org/", "https://b.example.org/"])
    with session_scope(database_url) as session:
        first = claim_alerts(session, [kept, lost], now=NOW, lease_seconds=120)
    later = NOW + timedelta(seconds=121)
    with session_scope(database_url) as session:
        # The lease ran out: another worker took the alert and is sending it again.
        [again] = claim_alerts(session, [lost], now=later, lease_seconds=120)
    delivered = Outcome("delivered", "HTTP 200")
    with session_scope(database_url) as session:
        ended = [(claim, delivered) for claim in first]
        record_outcomes(session, ended, now=later, policy=RetryPolicy((5.0,), 3))
    assert alert(database_url, kept).status == "delivered"
    assert (alert(database_url, lost).status, alert(database_url, lost).attempts) == (
        "sending",
        again.attempt,
    )
    assert [row.outcome for row in attempts(database_url, lost)] == ["delivered", None]


def test_an_alert_that_cannot_be_read_does_not_hold_back_its_batch(
    database_url: str, settings: AlertSettings, receiver: HttpPeer, make_message: MessageFactory
) -> None:
    broken, fine = _alerts(database_url, make_message, [receiver.url("/broken"), receiver.url("/fine")])
    with session_scope(database_url) as session:
        # A rule stored by a version whose rules this one no longer reads.
        subscription_id = alert(database_url, broken).subscription_id
        session.execute(update(Subscription).where(Subscription.id == subscription_id).values(rule={"x": 1}))
    statuses = deliver_alerts(database_url, [broken, fine], settings=settings, clock=lambda: NOW)
    assert statuses == {broken: "pending", fine: "delivered"}
    assert (alert(database_url, broken).last_error or "").startswith("unreadable")
    assert receiver.received("/broken") == []
