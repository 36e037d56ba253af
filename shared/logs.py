"""Logging as events with fields: ``event key=value ...`` on stderr."""

from __future__ import annotations

import logging
import sys

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class EventFormatter(logging.Formatter):
    """Renders ``log.info("alert.delivered", extra={"alert_id": 3})`` as one readable line."""

    def format(self, record: logging.LogRecord) -> str:
        fields = {key: value for key, value in record.__dict__.items() if key not in _STANDARD}
        rendered = " ".join(f"{key}={value!r}" for key, value in sorted(fields.items()))
        line = f"{self.formatTime(record)} {record.levelname} {record.name} {record.getMessage()}"
        if rendered:
            line = f"{line} {rendered}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


def configure_logging(level: str) -> None:
    """Send every logger's records to stderr as events."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(EventFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
