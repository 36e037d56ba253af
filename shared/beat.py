"""Beat's scheduler: Celery's persistent scheduler, made safe against a clock that steps back.

Beat keeps each periodic task's last run in its schedule file. If the host's clock is set back
(NTP correcting a drift, a VM restored from a snapshot, a container with another clock), every last
run lies in the future, and Celery's scheduler waits until the clock catches up: an hour of skew
stops the delivery sweeps, the resubmissions and the feed polls for an hour. Here a last run in the
future means the clock went back, and the task is due at once; from then on it runs on schedule.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery.beat import PersistentScheduler, ScheduleEntry

# Far enough back that any interval or crontab schedule is due.
_LONG_AGO = timedelta(days=366)


class ClockSafeScheduler(PersistentScheduler):  # type: ignore[misc]
    """A persistent scheduler whose entries are due at once when their last run is in the future,
    whether the clock went back while beat was stopped (the schedule file) or while it runs."""

    def populate_heap(self, *args: Any, **kwargs: Any) -> None:
        for entry in self.schedule.values():
            if _last_run_in_future(entry):
                entry.last_run_at = entry.schedule.now() - _LONG_AGO
        super().populate_heap(*args, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> Any:
        # The heap holds the times of the next runs as they were computed: rebuilt from the entries.
        heap: list[Any] | None = getattr(self, "_heap", None)
        if heap and any(_last_run_in_future(entry) for entry in self.schedule.values()):
            self._heap = None
        return super().tick(*args, **kwargs)


def _last_run_in_future(entry: ScheduleEntry) -> bool:
    schedule = entry.schedule
    if entry.last_run_at is None:
        return False
    return bool(schedule.maybe_make_aware(entry.last_run_at) > schedule.now())
