"""Logging as events with fields, on stderr: ``event key=value ...`` for people, or one JSON object per
line for log shippers (``RASID_LOG_FORMAT=json``).

At INFO a process says what happened to the user's data (a file ingested or rejected, an article
tagged, an alert sent or failing, a feed failing), once per event. Housekeeping (Celery's line for
every task received and finished, with its arguments, beat sending each periodic task, the
migration tool's chatter) is demoted to DEBUG, so an idle stack prints nothing.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final, Literal

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}

# Loggers of the libraries Rasid runs on, and the beginnings of their messages that are housekeeping
# (an empty tuple: every message of that logger up to WARNING). Their ERRORs always stay.
HOUSEKEEPING: Final[Mapping[str, tuple[str, ...]]] = {
    "celery.worker.strategy": (),  # "Task x[id] received"
    "celery.app.trace": ("Task %(name)s[%(id)s] succeeded",),
    "celery.beat": ("Scheduler: Sending due task",),
    "alembic.runtime.plugins": (),
    "alembic.runtime.migration": ("Context impl", "Will assume"),
    # Said by every connection to the embedded file broker, whose URL has no host by design.
    "kombu.connection": ("No hostname was supplied",),
}


def event_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a record was logged with (``extra=``), by name."""
    return {key: value for key, value in sorted(record.__dict__.items()) if key not in _STANDARD}


class EventFormatter(logging.Formatter):
    """Renders ``log.info("alert.delivered", extra={"alert_id": 3})`` as one readable line."""

    def format(self, record: logging.LogRecord) -> str:
        fields = event_fields(record)
        rendered = " ".join(f"{key}={value!r}" for key, value in fields.items())
        line = f"{self.formatTime(record)} {record.levelname} {record.name} {record.getMessage()}"
        if rendered:
            line = f"{line} {rendered}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line: ``time`` (ISO 8601, UTC), ``level``, ``logger``,
    ``event`` (the message), the record's fields, and ``exception`` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        entry: dict[str, Any] = {
            "time": when,
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in event_fields(record).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # default=str: a field of any type (a path, a datetime) is written, never dropped.
        return json.dumps(entry, ensure_ascii=False, default=str)


class HousekeepingFilter(logging.Filter):
    """Demotes the :data:`HOUSEKEEPING` messages to DEBUG, and drops them below ``level``."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if logging.INFO <= record.levelno <= logging.WARNING and is_housekeeping(record):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return record.levelno >= self.level


def is_housekeeping(record: logging.LogRecord) -> bool:
    """Whether ``record`` is one of the :data:`HOUSEKEEPING` messages."""
    prefixes = HOUSEKEEPING.get(record.name)
    if prefixes is None:
        return False
    return not prefixes or str(record.msg).startswith(prefixes)


def configure_logging(level: str, log_format: Literal["text", "json"] = "text") -> None:
    """Send every logger's records to stderr as events, as text or as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else EventFormatter())
    threshold = logging.getLevelNamesMapping()[level]
    handler.addFilter(HousekeepingFilter(threshold))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Python's warnings (a library's deprecation, Celery's warning about running as root) become
    # records too, so a JSON log stays JSON.
    logging.captureWarnings(True)
