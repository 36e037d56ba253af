"""``rasid status``: is Rasid healthy, and if not, why.

``shared`` checks what it owns: the broker (reachable, each declared queue's depth, the workers of
each kind alive: Celery's ``ping`` on Redis, heartbeat files on the embedded file broker), the
processes that are not workers (beat, the folder watcher: their heartbeats, :mod:`shared.heartbeat`) and
the database (reachable, schema current). Each service adds what only it knows, from its own tables,
through the ``status`` of its declaration (:mod:`shared.services`): a function taking a session and
the time and returning :class:`Check`s. A check with a ``problem`` needs attention.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import redis.exceptions
import sqlalchemy.exc
from kombu.exceptions import ChannelError
from kombu.exceptions import OperationalError as BrokerUnavailable
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from shared.errors import SchemaNotCurrentError
from shared.settings import EMBEDDED_BROKER_URL, RasidSettings

# How long workers on Redis have to answer ``ping``, and the broker and database to answer at all.
PING_SECONDS: Final = 1.0
CONNECT_SECONDS: Final = 3

BROKER_ERRORS: Final = (OSError, BrokerUnavailable, redis.exceptions.RedisError)


@dataclass(frozen=True)
class Check:
    """One fact about the stack: ``name`` (``workers.classify``), its ``value`` (JSON-able), and
    the ``problem`` it shows, if any, written for a person."""

    name: str
    value: Any
    problem: str | None = None


StatusReporter = Callable[[Session, datetime], Sequence[Check]]


@dataclass(frozen=True)
class Report:
    """Every check, in order."""

    checks: tuple[Check, ...]

    @property
    def problems(self) -> list[str]:
        return [check.problem for check in self.checks if check.problem]

    @property
    def healthy(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        """``rasid status --json``: ``healthy``, ``problems`` and every check's value by name."""
        values = {check.name: check.value for check in self.checks}
        return {"healthy": self.healthy, "problems": self.problems, "checks": values}


def collect_status(settings: RasidSettings, *, now: datetime) -> Report:
    """Check the broker, the workers, the database and what every service reports."""
    return Report((*broker_checks(settings), *database_checks(settings, now=now)))


def _embedded(settings: RasidSettings) -> bool:
    return settings.broker_url.startswith(EMBEDDED_BROKER_URL)


def broker_checks(settings: RasidSettings) -> list[Check]:
    """The broker reachable, the depth of every declared queue and the live workers of each kind."""
    from shared.services import workers

    declared = workers()
    if _embedded(settings) and not settings.broker_folder.is_dir():
        problem = f"no embedded broker at {settings.broker_folder}: is the stack running here (rasid run)?"
        return [Check("broker", "missing", problem=problem)]
    app = _status_app(settings)
    queues = [queue for worker in declared.values() for queue in worker.consumed_queues()]
    try:
        with app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=CONNECT_SECONDS)
            depths = {queue: queue_depth(connection.default_channel, queue) for queue in queues}
        alive = live_embedded_workers(settings) if _embedded(settings) else ping_workers(app)
    except BROKER_ERRORS as error:
        return [Check("broker", "unreachable", problem=f"cannot reach the broker: {error}")]
    checks = [Check("broker", "reachable"), *(Check(f"queue.{queue}", n) for queue, n in depths.items())]
    for name in declared:
        count = alive.get(name, 0)
        dead = None if count else f"no {name} worker is alive ({_how_checked(settings)})"
        checks.append(Check(f"workers.{name}", count, problem=dead))
    return checks + process_checks(settings)


def process_checks(settings: RasidSettings) -> list[Check]:
    """How many of each process that is not a worker (beat, the folder watcher) are alive: one must
    be, and only one beat."""
    from shared.heartbeat import STALE_AFTER_SECONDS, live_processes
    from shared.services import BEAT, beating_processes

    try:
        alive = live_processes(settings)
    except BROKER_ERRORS as error:
        return [Check("processes", "unknown", problem=f"cannot read the processes' heartbeats: {error}")]
    checks = []
    for name in beating_processes():
        count = alive.get(name, 0)
        problem = None
        if not count:
            problem = f"no {name} is running (none beat in the last {STALE_AFTER_SECONDS:g} s)"
        elif name == BEAT and count > 1:
            problem = f"{count} beat processes are running: each periodic task is sent {count} times; run one"
        checks.append(Check(f"processes.{name}", count, problem=problem))
    return checks


def broker_problem(settings: RasidSettings) -> str | None:
    """Why the broker cannot be reached, or None when it answers (``/readyz``: no queues, no ping)."""
    if _embedded(settings):
        folder = settings.broker_folder
        return None if folder.is_dir() else f"no embedded broker at {folder}"
    try:
        with _status_app(settings).connection_for_read() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=CONNECT_SECONDS)
    except BROKER_ERRORS as error:
        return f"cannot reach the broker: {error}"
    return None


def queue_depths(settings: RasidSettings) -> dict[str, int] | None:
    """Messages waiting in every declared queue, or None when the broker cannot be reached."""
    from shared.services import workers

    if broker_problem(settings):
        return None
    queues = [queue for worker in workers().values() for queue in worker.consumed_queues()]
    try:
        with _status_app(settings).connection_for_read() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=CONNECT_SECONDS)
            return {queue: queue_depth(connection.default_channel, queue) for queue in queues}
    except BROKER_ERRORS:
        return None


def _status_app(settings: RasidSettings) -> Any:
    from shared.celery_app import create_celery_app

    app = create_celery_app("status", settings)
    if not _embedded(settings):
        app.conf.broker_transport_options = {
            **app.conf.broker_transport_options,
            "socket_connect_timeout": CONNECT_SECONDS,
            "socket_timeout": CONNECT_SECONDS,
        }
        app.conf.broker_connection_timeout = CONNECT_SECONDS
    return app


def _how_checked(settings: RasidSettings) -> str:
    if _embedded(settings):
        from shared.heartbeat import STALE_AFTER_SECONDS

        return f"none wrote its heartbeat in the last {STALE_AFTER_SECONDS:g} s"
    return f"none answered ping within {PING_SECONDS:g} s"


def queue_depth(channel: Any, queue: str) -> int:
    """Messages waiting in ``queue``; a queue the broker never saw holds none."""
    try:
        return int(channel.queue_declare(queue=queue, passive=True).message_count)
    except ChannelError:
        return 0


def ping_workers(app: Any) -> Counter[str]:
    """Workers answering Celery's ``ping``, counted by kind (the hostname's part before ``@``)."""
    replies = app.control.ping(timeout=PING_SECONDS) or []
    return Counter(hostname.partition("@")[0] for reply in replies for hostname in reply)


def live_embedded_workers(settings: RasidSettings) -> Counter[str]:
    """Workers of the embedded mode that wrote their heartbeat lately, counted by kind."""
    from shared.heartbeat import heartbeat_folder, live_workers

    return live_workers(heartbeat_folder(settings))


def database_checks(settings: RasidSettings, *, now: datetime) -> list[Check]:
    """The database reachable and current, then every service's own checks in one transaction."""
    from shared.db import session_scope
    from shared.migrations import require_current_schema
    from shared.services import status_reporters

    url = settings.resolved_database_url
    missing = _missing_sqlite_file(url)
    if missing:
        problem = f"no database at {missing}: start the stack (rasid run)"
        return [Check("database", "missing", problem=problem)]
    # libpq gives up connecting after a few seconds instead of the system's minutes (a one-shot command).
    os.environ.setdefault("PGCONNECT_TIMEOUT", str(CONNECT_SECONDS))
    try:
        require_current_schema(url)
    except sqlalchemy.exc.OperationalError as error:
        return [Check("database", "unreachable", problem=f"cannot reach the database: {error.orig}")]
    except SchemaNotCurrentError as error:
        return [Check("database", "not current", problem=str(error))]
    checks = [Check("database", "reachable")]
    with session_scope(url) as session:
        for reporter in status_reporters():
            checks.extend(reporter(session, now))
    return checks


def _missing_sqlite_file(url: str) -> Path | None:
    """The SQLite file of ``url`` if it does not exist (status must not create an empty one)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    path = Path(parsed.database)
    return None if path.exists() else path


def render_text(report: Report) -> list[str]:
    """``rasid status`` for people: the verdict, every check, then what needs attention."""
    lines = [f"rasid: {'healthy' if report.healthy else 'needs attention'}"]
    width = max((len(check.name) for check in report.checks), default=0)
    for check in report.checks:
        mark = "!" if check.problem else " "
        value = "-" if check.value is None else check.value
        lines.append(f" {mark} {check.name:<{width}}  {value}")
    lines += [f"attention: {problem}" for problem in report.problems]
    return lines


def when(value: datetime | None) -> str | None:
    """A time as status values show it: ISO 8601, or None."""
    return value.isoformat(timespec="seconds") if value else None
