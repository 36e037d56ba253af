"""Beat's scheduler when the clock steps back: a last run in the future makes a task due at once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from celery import Celery
from celery.beat import PersistentScheduler, ScheduleEntry
from celery.schedules import crontab

from shared.beat import ClockSafeScheduler

SCHEDULES = pytest.mark.parametrize(
    "schedule", [timedelta(seconds=5), crontab(minute="*/10")], ids=["interval", "crontab"]
)


class SentError(Exception):
    """Raised instead of sending: the test only needs to know that beat sent the task."""


@pytest.fixture
def app() -> Celery:
    return Celery("beat-test", broker="memory://")


def scheduler(
    kind: type[PersistentScheduler], app: Celery, folder: Path, last_run_in: timedelta, schedule: object
) -> PersistentScheduler:
    """A scheduler of ``kind`` whose one task last ran ``last_run_in`` from now (future: the clock
    went back)."""
    beat = kind(app=app, schedule_filename=str(folder / kind.__name__), lazy=True)
    beat.setup_schedule()
    beat.schedule.clear()
    beat.schedule["sweep"] = ScheduleEntry(
        name="sweep", task="alert.sweep", schedule=schedule, last_run_at=app.now() + last_run_in, app=app
    )
    return beat


def sends_now(beat: PersistentScheduler) -> bool:
    """Whether a tick of ``beat`` sends its task at once."""

    def send(*_args: object, **_kwargs: object) -> None:
        raise SentError

    beat.apply_entry = send
    try:
        beat.tick()
    except SentError:
        return True
    return False


@SCHEDULES
def test_a_last_run_in_the_future_is_due_at_once(app: Celery, tmp_path: Path, schedule: object) -> None:
    hour_ahead = timedelta(hours=1)
    assert not sends_now(scheduler(PersistentScheduler, app, tmp_path, hour_ahead, schedule))
    assert sends_now(scheduler(ClockSafeScheduler, app, tmp_path, hour_ahead, schedule))


def test_a_clock_that_goes_back_while_beat_runs(app: Celery, tmp_path: Path) -> None:
    beat = scheduler(ClockSafeScheduler, app, tmp_path, -timedelta(seconds=1), timedelta(minutes=5))
    assert not sends_now(beat)  # due in about five minutes
    beat.schedule["sweep"].last_run_at = app.now() + timedelta(hours=1)  # the clock went back an hour
    assert sends_now(beat)


def test_a_recent_last_run_keeps_its_schedule(app: Celery, tmp_path: Path) -> None:
    beat = scheduler(ClockSafeScheduler, app, tmp_path, -timedelta(seconds=1), timedelta(minutes=5))
    assert not sends_now(beat)
    assert beat.schedule["sweep"].last_run_at > app.now() - timedelta(minutes=1)
