"""How often beat fires the periodic tasks; read from the environment."""

from __future__ import annotations

from functools import cache

from pydantic import Field

from shared.settings import RasidSettings, load_settings


class ScheduleSettings(RasidSettings):
    """Intervals of the periodic tasks that Celery beat sends."""

    feed_poll_seconds: float = Field(default=300.0, gt=0, description="How often every feed is polled.")
    delivery_sweep_seconds: float = Field(
        default=5.0, gt=0, description="How often due retries and stalled deliveries are picked up."
    )
    resend_sweep_seconds: float = Field(
        default=60.0, gt=0, description="How often articles handed on but never stored are looked for."
    )


@cache
def _settings() -> ScheduleSettings:
    return load_settings(ScheduleSettings)


def feed_poll_seconds() -> float:
    return _settings().feed_poll_seconds


def delivery_sweep_seconds() -> float:
    return _settings().delivery_sweep_seconds


def resend_sweep_seconds() -> float:
    return _settings().resend_sweep_seconds
