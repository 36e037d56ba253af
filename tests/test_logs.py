"""The log formats: one JSON object per line with the event's fields, readable text lines, and Celery's
housekeeping lines demoted to DEBUG."""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator

import pytest

from shared.logs import configure_logging
from shared.settings import RasidSettings


class Stderr:
    """What the handler :func:`configure_logging` installs writes (to pytest's ``sys.stderr``)."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        self.seen = ""

    def getvalue(self) -> str:
        self.seen += self.capsys.readouterr().err
        return self.seen


@pytest.fixture
def stderr(capsys: pytest.CaptureFixture[str]) -> Iterator[Stderr]:
    """The root logger's handlers and level are put back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield Stderr(capsys)
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)


def test_json_lines_carry_the_event_and_its_fields(stderr: Stderr) -> None:
    configure_logging("INFO", "json")
    log = logging.getLogger("alert_service.delivery")
    log.info("alert.delivered", extra={"alert_id": 7, "detail": "مصدر\nسطر"})
    log.warning("alert.retrying", extra={"alert_id": 8, "retry_in": "300s"})
    lines = stderr.getvalue().splitlines()
    assert len(lines) == 2, "one line per record, a line break in a field included"
    first, second = (json.loads(line) for line in lines)
    assert first["event"] == "alert.delivered" and first["level"] == "INFO"
    assert first["logger"] == "alert_service.delivery"
    assert first["alert_id"] == 7 and first["detail"] == "مصدر\nسطر"
    assert first["time"].endswith("+00:00")
    assert second == {**second, "event": "alert.retrying", "level": "WARNING", "retry_in": "300s"}


def test_json_lines_hold_exceptions_and_any_field_type(stderr: Stderr) -> None:
    configure_logging("INFO", "json")
    try:
        raise ValueError("bad")
    except ValueError:
        logging.getLogger("x").exception("task.crashed", extra={"path": object.__new__(RasidSettings)})
    [entry] = [json.loads(line) for line in stderr.getvalue().splitlines()]
    assert "ValueError: bad" in entry["exception"]
    assert isinstance(entry["path"], str)


@pytest.mark.parametrize(
    ("logger", "message", "args"),
    [
        ("celery.worker.strategy", "Task %s[%s] received", ("alert.sweep_deliveries", "id")),
        ("celery.app.trace", "Task %(name)s[%(id)s] succeeded in %(runtime)ss: %(return_value)s", ()),
        ("celery.beat", "Scheduler: Sending due task %s (%s)", ("alert.sweep_deliveries", "x")),
        ("kombu.connection", "No hostname was supplied. Reverting to default '%s'", ("localhost",)),
    ],
)
def test_housekeeping_is_debug(stderr: Stderr, logger: str, message: str, args: tuple[str, ...]) -> None:
    configure_logging("INFO", "text")
    record_args = args or ({"name": "t", "id": "1", "runtime": 0.1, "return_value": None},)
    level = logging.WARNING if logger.startswith("kombu") else logging.INFO
    logging.getLogger(logger).log(level, message, *record_args)
    assert stderr.getvalue() == "", "housekeeping is not shown at INFO"
    configure_logging("DEBUG", "text")
    logging.getLogger(logger).log(level, message, *record_args)
    assert " DEBUG " in stderr.getvalue()


def test_what_happened_is_shown_at_info(stderr: Stderr) -> None:
    configure_logging("INFO", "text")
    logging.getLogger("celery.app.trace").info("Task %s[%s] retry: %s", "t", "1", "database locked")
    logging.getLogger("classifier_service.tasks").info(
        "article.tagged", extra={"article_id": "ab12", "topics": "strikes 0.93"}
    )
    lines = stderr.getvalue().splitlines()
    assert len(lines) == 2
    assert "retry: database locked" in lines[0]
    expected = "INFO classifier_service.tasks article.tagged article_id='ab12' topics='strikes 0.93'"
    assert lines[1].endswith(expected)


def test_python_warnings_are_json_lines_too(stderr: Stderr) -> None:
    configure_logging("INFO", "json")
    warnings.warn("running as root", UserWarning, stacklevel=1)
    [entry] = [json.loads(line) for line in stderr.getvalue().splitlines()]
    assert entry["level"] == "WARNING" and "UserWarning: running as root" in entry["event"]


def test_log_format_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASID_LOG_FORMAT", "JSON")
    assert RasidSettings().log_format == "json"
    monkeypatch.setenv("RASID_LOG_FORMAT", "xml")
    with pytest.raises(ValueError, match="log_format"):
        RasidSettings()
