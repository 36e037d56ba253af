"""Schedule computation, table-driven from ``tests/fixtures/alert/schedules.json``: digest periods in
zones without daylight saving and across Europe/Berlin's changes, period boundaries, quiet hours across
midnight, and the ``--digest/--tz/--quiet`` forms with their errors."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alert_service.errors import SubscriptionError
from alert_service.schedules import (
    Schedule,
    digest_period,
    format_schedule,
    holding_period,
    quiet_window,
    read_schedule,
    schedule_options,
)

TABLE = json.loads((Path(__file__).parents[1] / "fixtures" / "alert" / "schedules.json").read_text("utf-8"))


def _at(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


@pytest.mark.parametrize("case", TABLE["periods"], ids=lambda case: case["case"])
def test_digest_period(case: dict[str, Any]) -> None:
    schedule = read_schedule(case["digest"], zone=case["tz"])
    day = timedelta(seconds=case.get("day_seconds", 86400))
    period = digest_period(schedule, _at(case["when"]) or datetime.min, day=day)
    assert (period.start, period.end) == (_at(case["start"]), _at(case["end"]))
    assert period.start <= (_at(case["when"]) or datetime.min) < period.end
    assert holding_period(schedule, _at(case["when"]) or datetime.min, day=day) == period


@pytest.mark.parametrize("case", TABLE["quiet"], ids=lambda case: case["case"])
def test_quiet_window(case: dict[str, Any]) -> None:
    schedule = read_schedule(None, zone=case["tz"], quiet=case["quiet"])
    when = _at(case["when"]) or datetime.min
    window = quiet_window(schedule, when)
    found = None if window is None else (window.start, window.end)
    expected = None if case["start"] is None else (_at(case["start"]), _at(case["end"]))
    assert found == expected
    assert holding_period(schedule, when) == window


@pytest.mark.parametrize("case", TABLE["texts"], ids=lambda case: case["shown"])
def test_schedule_text_round_trips(case: dict[str, Any]) -> None:
    schedule = read_schedule(case["digest"], zone=case["tz"], quiet=case["quiet"])
    assert format_schedule(schedule) == case["shown"]
    assert Schedule.model_validate(json.loads(json.dumps(schedule.to_json()))) == schedule
    options = dict(zip(*[iter(schedule_options(schedule))] * 2, strict=True))
    again = read_schedule(options.get("--digest"), zone=options.get("--tz"), quiet=options.get("--quiet"))
    assert again == schedule


@pytest.mark.parametrize("case", TABLE["errors"], ids=lambda case: case["error"])
def test_schedule_errors_say_what_is_wrong(case: dict[str, Any]) -> None:
    with pytest.raises(SubscriptionError, match=case["error"]):
        read_schedule(case["digest"], zone=case["tz"], quiet=case["quiet"])


def test_an_immediate_schedule_without_quiet_hours_holds_nothing() -> None:
    assert holding_period(read_schedule(None), datetime.fromisoformat("2026-11-29T03:00:00Z")) is None
