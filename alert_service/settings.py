"""Settings of the alert service: the SMTP server, webhook timeouts, the retry policy, the sweep and
the window of story grouping.

Read from ``RASID_...`` variables by :func:`alert_settings`, once per process.
"""

from __future__ import annotations

import math
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, field_validator, model_validator

from alert_service.grouping import GroupingSettings
from shared.settings import RasidSettings, load_settings

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_schedule(value: str) -> tuple[float, ...]:
    """``"5s,5m,2h"`` (or plain seconds, ``"0.5,1"``) as seconds; raises ValueError on anything else."""
    steps = []
    for raw in value.split(","):
        item = raw.strip().lower()
        scale = _UNITS.get(item[-1:])
        number = item[:-1] if scale else item
        try:
            seconds = float(number) * (scale or 1.0)
        except ValueError:
            raise ValueError(f"{item!r} is not a duration such as 30, 30s, 5m, 2h or 1d") from None
        if not (seconds > 0 and math.isfinite(seconds)):
            raise ValueError(f"{item!r}: every wait must be longer than zero")
        steps.append(seconds)
    return tuple(steps)


class AlertSettings(RasidSettings):
    """What the alert service needs on top of the shared settings."""

    smtp_host: str = Field(
        default="",
        description="SMTP server that relays alert emails; empty: they are written to the local mailbox.",
    )
    mail_dir: Path | None = Field(
        default=None, description="The local mailbox's folder; none means mail/ in the data folder."
    )
    smtp_port: int = Field(default=1025, ge=1, le=65535, description="Port of the SMTP server.")
    smtp_username: str | None = Field(default=None, description="SMTP login; none means no AUTH.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password.")
    smtp_starttls: bool = Field(default=False, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_verify: bool = Field(
        default=True, description="Verify the SMTP server's certificate and name after STARTTLS."
    )
    smtp_ca_file: Path | None = Field(
        default=None, description="CA certificates (PEM) to verify the SMTP server with, not the system's."
    )
    smtp_allow_plaintext_auth: bool = Field(
        default=False, description="Allow sending the SMTP password over a connection without TLS."
    )
    smtp_from: str = Field(default="rasid@localhost", min_length=3, description="Sender address of alerts.")
    smtp_timeout: float = Field(
        default=10.0, gt=0, description="Seconds one whole SMTP conversation may take (a deadline)."
    )
    webhook_timeout: float = Field(
        default=10.0, gt=0, description="Seconds one whole webhook POST may take, response included."
    )
    retry_schedule: str = Field(
        default="5s,5m,30m,2h,5h,10h",
        description="Waits after a failed attempt: the first, the second, ...; the last repeats.",
    )
    max_attempts: int = Field(default=12, ge=1, description="Attempts before an alert is marked failed.")
    delivery_lease_seconds: float = Field(
        default=120.0, gt=0, description="How long a claimed alert stays claimed before another worker may."
    )
    delivery_sweep_seconds: float = Field(
        default=5.0, gt=0, description="How often due retries and stalled deliveries are picked up."
    )
    redispatch_seconds: float = Field(
        default=60.0, gt=0, description="How long the sweep waits before re-sending a delivery message."
    )
    sweep_batch: int = Field(default=500, ge=1, description="Most alerts one sweep dispatches.")
    digest_day_seconds: float = Field(
        default=86400.0,
        gt=0,
        le=86400.0,
        description="Length of a daily digest's period: a day (tests shorten it).",
    )
    story_window_hours: float = Field(
        default=72.0,
        gt=0,
        le=24 * 30,
        description="Hours either side of an article within which it may join another's story.",
    )

    story_window_members: int = Field(
        default=GroupingSettings.most_in_window,
        ge=1,
        description="The most members of its window an article may join (the latest published of them).",
    )

    @field_validator("retry_schedule")
    @classmethod
    def _schedule_parses(cls, value: str) -> str:
        parse_schedule(value)
        return value

    @property
    def retry_steps(self) -> tuple[float, ...]:
        """The retry schedule in seconds: the wait after attempt 1, 2, ...; the last one repeats."""
        return parse_schedule(self.retry_schedule)

    @property
    def digest_day(self) -> timedelta:
        """The length of a daily digest's period."""
        return timedelta(seconds=self.digest_day_seconds)

    @property
    def grouping(self) -> GroupingSettings:
        """How articles are grouped into stories."""
        return GroupingSettings(
            window=timedelta(hours=self.story_window_hours),
            most_in_window=self.story_window_members,
            gazetteer_path=self.gazetteer_path,
        )

    @model_validator(mode="after")
    def _lease_outlives_sending(self) -> Self:
        # A lease shorter than a send would let a second worker send the same alert.
        if self.delivery_lease_seconds <= max(self.smtp_timeout, self.webhook_timeout) * 2:
            raise ValueError(
                "RASID_DELIVERY_LEASE_SECONDS must exceed twice RASID_SMTP_TIMEOUT and RASID_WEBHOOK_TIMEOUT"
            )
        return self

    @model_validator(mode="after")
    def _no_password_in_clear(self) -> Self:
        if self.sends_password_in_clear:
            raise ValueError(
                "RASID_SMTP_PASSWORD would be sent without TLS: set RASID_SMTP_STARTTLS=true, or "
                "RASID_SMTP_ALLOW_PLAINTEXT_AUTH=true for a server on a trusted network"
            )
        return self

    @property
    def mailbox_folder(self) -> Path:
        """Where email alerts are written when no SMTP host is set (``alert_service.mailbox``)."""
        return (self.mail_dir or self.data_dir / "mail").resolve()

    @property
    def sends_password_in_clear(self) -> bool:
        """Whether logging in to the SMTP server would send the password unencrypted."""
        login = bool(self.smtp_username and self.smtp_password)
        return login and not self.smtp_starttls and not self.smtp_allow_plaintext_auth


@cache
def alert_settings() -> AlertSettings:
    """The alert settings of this process, built on first use."""
    return load_settings(AlertSettings)
