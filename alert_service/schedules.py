"""When a subscription is sent its alerts: at once (``immediate``), or gathered into one digest an hour
(``hourly``) or a day (``daily`` at a time of day), in the subscriber's IANA time zone; and quiet hours
during which immediate alerts are held and sent as one digest when they end.

Everything here is pure: a :class:`Schedule` (stored with the subscription as JSON, with a ``version``)
and the arithmetic of periods. A period is half-open, ``[start, end)``, in UTC. Daily periods are
counted in the zone's wall clock, so a day across a daylight-saving change lasts 23 or 25 hours; a
time of day the clock skips that day is taken as the offset before the change gives it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from alert_service.errors import SubscriptionError

Mode = Literal["immediate", "hourly", "daily"]
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
# What ``--quiet`` takes to end a subscription's quiet hours.
NO_QUIET_HOURS = ("", "off", "none")


@dataclass(frozen=True)
class Period:
    """A span of time, ``[start, end)`` in UTC."""

    start: datetime
    end: datetime

    def __contains__(self, when: datetime) -> bool:
        return self.start <= when < self.end


class Schedule(BaseModel):
    """How a subscription's alerts are sent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    mode: Mode = "immediate"
    at: time | None = None
    zone: str = "UTC"
    quiet: tuple[time, time] | None = None

    @field_validator("zone")
    @classmethod
    def _zone_exists(cls, value: str) -> str:
        zone_of(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.mode == "daily") != (self.at is not None):
            raise ValueError("a daily digest needs a time of day, and only a daily digest has one")
        if self.quiet is not None and self.mode != "immediate":
            raise ValueError("quiet hours hold immediate alerts; a digest is sent at its own time")
        if self.quiet is not None and self.quiet[0] == self.quiet[1]:
            raise ValueError("quiet hours must start and end at different times")
        return self

    @property
    def tz(self) -> ZoneInfo:
        """The subscriber's time zone."""
        return zone_of(self.zone)

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return self.model_dump(mode="json")


IMMEDIATE = Schedule()


def zone_of(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``Asia/Baghdad``)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"{name!r} is not an IANA time zone such as Asia/Baghdad or UTC") from error


def parse_time(text: str) -> time:
    """``HH:MM`` or ``HH:MM:SS`` as a time of day."""
    found = _TIME.match(text.strip())
    if found is None:
        raise SubscriptionError(f"{text!r} is not a time of day like 08:00")
    hour, minute, second = int(found[1]), int(found[2]), int(found[3] or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise SubscriptionError(f"{text!r} is not a time of day like 08:00")
    return time(hour, minute, second)


def read_schedule(digest: str | None, *, zone: str | None = None, quiet: str | None = None) -> Schedule:
    """The schedule the ``--digest`` (``immediate``, ``hourly``, ``daily@08:00``), ``--tz`` and
    ``--quiet`` (``22:00-07:00``) options describe; :class:`SubscriptionError` says what is wrong."""
    mode, _, at = (digest or "immediate").strip().lower().partition("@")
    if mode not in ("immediate", "hourly", "daily"):
        raise SubscriptionError(f"{digest!r}: a digest is immediate, hourly or daily@HH:MM")
    values: dict[str, Any] = {"mode": mode, "zone": zone or "UTC"}
    if at or mode == "daily":
        if not at:
            raise SubscriptionError("a daily digest needs its time: daily@08:00")
        values["at"] = parse_time(at)
    if quiet:
        start, dash, end = quiet.partition("-")
        if not dash:
            raise SubscriptionError(f"{quiet!r}: quiet hours are written START-END, e.g. 22:00-07:00")
        values["quiet"] = (parse_time(start), parse_time(end))
    try:
        return Schedule.model_validate(values)
    except ValueError as error:
        raise SubscriptionError(_first_error(error)) from None


def changed_schedule(
    current: Schedule, digest: str | None, *, zone: str | None = None, quiet: str | None = None
) -> Schedule:
    """``current`` with what the options give changed (as :func:`read_schedule` reads them); the
    rest kept. ``quiet`` ``off`` (or empty) ends quiet hours."""
    if quiet is not None and quiet.strip().lower() in NO_QUIET_HOURS:
        quiet_text = None
    else:
        quiet_text = quiet if quiet is not None else _quiet_text(current)
    return read_schedule(
        digest if digest is not None else _digest_text(current),
        zone=zone if zone is not None else current.zone,
        quiet=quiet_text,
    )


def _digest_text(schedule: Schedule) -> str:
    return schedule.mode + (f"@{_clock(schedule.at)}" if schedule.at else "")


def _quiet_text(schedule: Schedule) -> str | None:
    return None if schedule.quiet is None else f"{_clock(schedule.quiet[0])}-{_clock(schedule.quiet[1])}"


def _first_error(error: ValueError) -> str:
    errors = getattr(error, "errors", None)
    if callable(errors):
        return str(errors()[0]["msg"]).removeprefix("Value error, ")
    return str(error)


def _clock(value: time) -> str:
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")


def format_schedule(schedule: Schedule) -> str:
    """``immediate``, ``hourly (Asia/Baghdad)``, ``daily at 08:00 (Asia/Baghdad)``, with ``, quiet
    22:00-07:00`` when it has quiet hours."""
    text: str = schedule.mode
    if schedule.at is not None:
        text += f" at {_clock(schedule.at)}"
    if schedule.mode != "immediate" or schedule.quiet is not None:
        text += f" ({schedule.zone})"
    if schedule.quiet is not None:
        text += f", quiet {_clock(schedule.quiet[0])}-{_clock(schedule.quiet[1])}"
    return text


def schedule_options(schedule: Schedule) -> list[str]:
    """The ``rasid subscribe`` options that give ``schedule`` back."""
    if schedule == IMMEDIATE:
        return []
    options = ["--digest", _digest_text(schedule), "--tz", schedule.zone]
    quiet = _quiet_text(schedule)
    return options + (["--quiet", quiet] if quiet else [])


def _wall(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The instant the zone's clocks show ``at`` on ``day``, in UTC."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def digest_period(schedule: Schedule, when: datetime, *, day: timedelta = DAY) -> Period:
    """The digest period ``when`` falls in. ``day`` is the length of a daily period: a day, except
    where a test shortens it, when periods of that length follow one another from the day's time."""
    zone = schedule.tz
    local = when.astimezone(zone)
    if schedule.mode == "hourly":
        start = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
        return Period(start, start + HOUR)
    if schedule.at is None:
        raise ValueError("an immediate subscription has no digest period")
    if day != DAY:
        anchor = _wall(local.date(), schedule.at, zone)
        start = anchor + day * ((when - anchor) // day)
        return Period(start, start + day)
    today = _wall(local.date(), schedule.at, zone)
    if when >= today:
        return Period(today, _wall(local.date() + DAY, schedule.at, zone))
    return Period(_wall(local.date() - DAY, schedule.at, zone), today)


def quiet_window(schedule: Schedule, when: datetime) -> Period | None:
    """The quiet hours ``when`` falls in, or None when it is not in quiet hours."""
    if schedule.quiet is None:
        return None
    zone = schedule.tz
    start, end = schedule.quiet
    local = when.astimezone(zone)
    today, clock = local.date(), local.time().replace(tzinfo=None)
    if start < end:
        return Period(_wall(today, start, zone), _wall(today, end, zone)) if start <= clock < end else None
    if clock >= start:
        return Period(_wall(today, start, zone), _wall(today + DAY, end, zone))
    if clock < end:
        return Period(_wall(today - DAY, start, zone), _wall(today, end, zone))
    return None


def holding_period(schedule: Schedule, when: datetime, *, day: timedelta = DAY) -> Period | None:
    """Where an alert made at ``when`` waits: its digest period, the quiet hours it falls in, or
    nowhere (None: it is sent at once)."""
    if schedule.mode != "immediate":
        return digest_period(schedule, when, day=day)
    return quiet_window(schedule, when)
