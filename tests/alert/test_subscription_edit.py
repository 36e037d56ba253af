"""Changing a subscription after it was made: ``rasid subscriptions edit``, ``pause`` and ``resume``,
validated as ``subscribe`` validates; a paused subscription is listed as paused and alerts again once
resumed, a removed one is gone for good."""

from __future__ import annotations

from datetime import time

import pytest

from alert_service.delivery import deliver_alert
from alert_service.errors import SubscriptionError
from alert_service.schedules import IMMEDIATE, Schedule, changed_schedule
from alert_service.settings import AlertSettings
from alert_service.subscriptions import SubscriptionChange, change_subscription
from shared.db import session_scope
from tests.alert.helpers import NOW, MessageFactory, add_subscription, alert, store
from tests.commands import json_rows, run
from tests.peers import HttpPeer

DAILY = Schedule(mode="daily", at=time(8), zone="Asia/Baghdad")
QUIET = Schedule(zone="Asia/Baghdad", quiet=(time(22), time(7)))


@pytest.mark.parametrize(
    ("current", "digest", "zone", "quiet", "expected"),
    [
        (IMMEDIATE, "hourly", None, None, Schedule(mode="hourly")),
        (DAILY, None, "Europe/Paris", None, Schedule(mode="daily", at=time(8), zone="Europe/Paris")),
        (DAILY, "daily@09:30", None, None, Schedule(mode="daily", at=time(9, 30), zone="Asia/Baghdad")),
        (DAILY, "immediate", None, "22:00-07:00", QUIET),
        (QUIET, None, None, "off", Schedule(zone="Asia/Baghdad")),
        (QUIET, None, None, "23:00-06:00", Schedule(zone="Asia/Baghdad", quiet=(time(23), time(6)))),
        (QUIET, "daily@08:00", None, "", DAILY),
    ],
)
def test_a_schedule_change_keeps_what_it_does_not_name(
    current: Schedule, digest: str | None, zone: str | None, quiet: str | None, expected: Schedule
) -> None:
    assert changed_schedule(current, digest, zone=zone, quiet=quiet) == expected


@pytest.mark.parametrize(
    ("current", "digest", "zone", "quiet", "message"),
    [
        (QUIET, "hourly", None, None, "quiet hours hold immediate alerts"),
        (DAILY, None, "Baghdad", None, "not an IANA time zone"),
        (IMMEDIATE, "daily", None, None, "needs its time"),
        (IMMEDIATE, None, None, "22:00", "START-END"),
    ],
)
def test_a_bad_schedule_change_says_what_is_wrong(
    current: Schedule, digest: str | None, zone: str | None, quiet: str | None, message: str
) -> None:
    with pytest.raises(SubscriptionError, match=message):
        changed_schedule(current, digest, zone=zone, quiet=quiet)


def test_edit_changes_the_rule_the_schedule_and_the_target(database_url: str) -> None:
    subscription = add_subscription(database_url, "email", "a@example.org", ["strikes"])
    sid = str(subscription.id)
    [edited] = json_rows(
        database_url, "subscriptions", "edit", sid, "--rule", "topic:strikes>=0.8 entity:Iraq"
    )
    assert edited["rule"] == "topic:strikes>=0.8 entity:country:iq"
    assert edited["delivery"] == "immediate"
    [edited] = json_rows(
        database_url, "subscriptions", "edit", sid, "--schedule", "daily@08:00", "--timezone", "Asia/Baghdad"
    )
    assert edited["delivery"] == "daily at 08:00 (Asia/Baghdad)"
    assert edited["rule"] == "topic:strikes>=0.8 entity:country:iq"
    [edited] = json_rows(
        database_url, "subscriptions", "edit", sid, "--digest", "immediate", "--quiet-hours", "22:00-07:00"
    )
    assert edited["delivery"] == "immediate (Asia/Baghdad), quiet 22:00-07:00"
    [edited] = json_rows(database_url, "subscriptions", "edit", sid, "--target", "b@example.org")
    assert (edited["target"], edited["channel"]) == ("b@example.org", "email")
    human = run(database_url, "subscriptions", "edit", sid, "--quiet", "off")
    assert human.output.endswith("delivery: immediate\n"), human.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rule", "entity:Baghdadd"], "did you mean"),
        (["--rule", "topic:no_such_topic"], "unknown topic"),
        (["--digest", "hourly", "--quiet", "22:00-07:00"], "quiet hours hold immediate alerts"),
        (["--tz", "Baghdad"], "not an IANA time zone"),
        (["--target", "not an address"], "not an email address"),
        ([], "nothing to change"),
    ],
)
def test_a_bad_edit_changes_nothing(database_url: str, args: list[str], message: str) -> None:
    subscription = add_subscription(database_url, "email", "a@example.org", ["strikes"])
    result = run(database_url, "subscriptions", "edit", str(subscription.id), *args)
    assert result.exit_code != 0 and message in result.output, result.output
    [unchanged] = json_rows(database_url, "subscriptions", "show", str(subscription.id))
    assert (unchanged["rule"], unchanged["delivery"]) == ("topic:strikes", "immediate")
    assert unchanged["target"] == "a@example.org"


def test_a_paused_subscription_is_listed_gets_no_alert_and_resumes(
    database_url: str, make_message: MessageFactory
) -> None:
    subscription = add_subscription(database_url, "email", "a@example.org", ["strikes"])
    sid = str(subscription.id)
    assert f"subscription {sid}: paused" in run(database_url, "subscriptions", "pause", sid).output
    [listed] = json_rows(database_url, "subscriptions", "list")
    assert (listed["state"], listed["active"]) == ("paused", False)
    assert "(paused)" in run(database_url, "subscriptions", "list").output
    assert store(database_url, make_message("a" * 32)) == []
    assert f"subscription {sid}: active" in run(database_url, "subscriptions", "resume", sid).output
    assert len(store(database_url, make_message("b" * 32))) == 1
    [listed] = json_rows(database_url, "subscriptions", "list")
    assert listed["state"] == "active"


def test_a_removed_subscription_cannot_be_resumed_or_edited(database_url: str) -> None:
    subscription = add_subscription(database_url, "email", "a@example.org", ["strikes"])
    sid = str(subscription.id)
    run(database_url, "subscriptions", "pause", sid)
    assert run(database_url, "subscriptions", "remove", sid).exit_code == 0
    assert json_rows(database_url, "subscriptions", "list") == []
    [removed] = json_rows(database_url, "subscriptions", "list", "--all")
    assert removed["state"] == "removed" and removed["removed_at"]
    for command in (["resume", sid], ["pause", sid], ["edit", sid, "--rule", "topic:training"]):
        result = run(database_url, "subscriptions", *command)
        assert result.exit_code == 1 and "was removed" in result.output, result.output


def test_a_paused_subscriptions_pending_alert_waits_and_is_sent_on_resume(
    database_url: str, settings: AlertSettings, receiver: HttpPeer, make_message: MessageFactory
) -> None:
    subscription = add_subscription(database_url, "webhook", receiver.url("/a"), ["strikes"])
    [alert_id] = store(database_url, make_message())
    with session_scope(database_url) as session:
        change_subscription(session, subscription.id, SubscriptionChange(paused=True))
    assert deliver_alert(database_url, alert_id, settings=settings, clock=lambda: NOW) is None
    assert receiver.received() == [] and alert(database_url, alert_id).status == "pending"
    with session_scope(database_url) as session:
        change_subscription(session, subscription.id, SubscriptionChange(paused=False))
    assert deliver_alert(database_url, alert_id, settings=settings, clock=lambda: NOW) == "delivered"
    assert len(receiver.received()) == 1
