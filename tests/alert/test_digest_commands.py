"""``rasid subscribe --digest/--tz/--quiet``: stored with the subscription, shown back by
``subscriptions show`` and ``list``, and a clear error for what cannot be a schedule."""

from __future__ import annotations

from tests.commands import json_rows, run


def test_a_digest_schedule_is_stored_and_shown(database_url: str) -> None:
    options = ["--topics", "strikes", "--digest", "daily@08:00", "--tz", "Asia/Baghdad"]
    [created] = json_rows(database_url, "subscribe", "email", "a@example.org", *options)
    assert created["delivery"] == "daily at 08:00 (Asia/Baghdad)"
    [shown] = json_rows(database_url, "subscriptions", "show", str(created["id"]))
    assert shown["schedule_json"] == {
        "version": 1,
        "mode": "daily",
        "at": "08:00:00",
        "zone": "Asia/Baghdad",
        "quiet": None,
    }
    human = run(database_url, "subscriptions", "show", str(created["id"]))
    assert "delivery: daily at 08:00 (Asia/Baghdad)" in human.output
    listed = run(database_url, "subscriptions", "list")
    assert "delivery: daily at 08:00 (Asia/Baghdad)" in listed.output


def test_quiet_hours_and_the_immediate_default(database_url: str) -> None:
    quiet = ["--topics", "strikes", "--quiet", "22:00-07:00", "--tz", "Asia/Baghdad"]
    [held] = json_rows(database_url, "subscribe", "email", "a@example.org", *quiet)
    assert held["delivery"] == "immediate (Asia/Baghdad), quiet 22:00-07:00"
    [plain] = json_rows(database_url, "subscribe", "email", "b@example.org", "--topics", "strikes")
    assert plain["delivery"] == "immediate"


def test_a_bad_schedule_is_refused_and_nothing_is_stored(database_url: str) -> None:
    for options, message in [
        (["--digest", "daily@08:00", "--tz", "Baghdad"], "not an IANA time zone"),
        (["--digest", "weekly"], "immediate, hourly or daily@HH:MM"),
        (["--digest", "hourly", "--quiet", "22:00-07:00"], "quiet hours hold immediate alerts"),
    ]:
        result = run(database_url, "subscribe", "email", "a@example.org", "--topics", "strikes", *options)
        assert result.exit_code == 2 and message in result.output, result.output
    assert json_rows(database_url, "subscriptions", "list") == []
