"""What each installed service declares about itself, and what ``shared`` assembles from it.

A service declares one :class:`Service` object and names it in the ``rasid.services`` entry point
group of ``pyproject.toml``: its worker and the queues that worker consumes, where its tasks are
routed, its periodic tasks (each interval read from the service's own settings), the extra
processes it needs, the topics it can tag articles with, and its part of ``rasid status``.
``shared`` never names a service: ``rasid worker NAME``, the Celery routes, beat's schedule, the
children of ``rasid run``, the topics ``rasid subscribe`` accepts and the checks of ``rasid status``
are all assembled here from the declarations, so adding a service needs no edit in ``shared``.

Declaration modules stay light (task names, queue names, settings): they are loaded by every
process that sends a message, and by ``rasid worker`` before it knows which worker to start.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from importlib.metadata import entry_points
from pkgutil import resolve_name
from typing import Any

SERVICES_GROUP = "rasid.services"
# Beat's name in ``rasid status``: one must run, and only one (two send every periodic task twice).
BEAT = "beat"


@dataclass(frozen=True)
class Worker:
    """``rasid worker NAME``: the Celery app at ``app`` ("module:attribute"), consuming ``queues``,
    and ``host_queues()``: queues of work only this host can do (files in its own folder), named from
    the service's settings when the worker starts."""

    name: str
    app: str
    queues: tuple[str, ...]
    host_queues: Callable[[], tuple[str, ...]] | None = None

    def consumed_queues(self) -> tuple[str, ...]:
        """Every queue this host's worker consumes: the shared ones, then this host's own."""
        return self.queues + (self.host_queues() if self.host_queues else ())

    def load_app(self) -> Any:
        """The worker's Celery app; importing it registers the service's tasks."""
        return resolve_name(self.app)


@dataclass(frozen=True)
class Periodic:
    """A task beat sends every ``seconds()`` seconds (read from the service's settings when beat starts)."""

    task: str
    seconds: Callable[[], float]


@dataclass(frozen=True)
class Process:
    """A ``rasid`` command that ``rasid run`` supervises beside the workers.

    ``stop_first``: the process brings new work in (a folder watcher), so it is started after the
    workers and beat and stopped before them, and the workers can finish what it handed them.
    """

    args: tuple[str, ...]
    stop_first: bool = False
    # The name it beats under (:mod:`shared.heartbeat`), for ``rasid status`` to tell it is alive.
    name: str | None = None


@dataclass(frozen=True)
class Service:
    """Everything ``shared`` needs to know about one service."""

    worker: Worker | None
    # Task name, or a pattern such as "billing.*", to the queue its messages go to. An exact name
    # wins over any pattern.
    routes: Mapping[str, str]
    periodic: tuple[Periodic, ...] = ()
    processes: tuple[Process, ...] = ()
    # The topic names this service tags articles with, read from its own data when asked (so a
    # service may subscribe people only to topics that exist, without importing the tagger).
    topics: Callable[[], frozenset[str]] | None = None
    # "module:function" giving this service's part of ``rasid status`` from its own tables: called
    # with a session and the time, returns ``shared.status.Check``s (imported only by that command).
    status: str | None = None
    # "module:function" giving this service's part of ``/metrics`` from its own tables: called with a
    # session, returns ``prometheus_client.Metric``s (imported only by the web process).
    metrics: str | None = None


@cache
def installed_services() -> tuple[Service, ...]:
    """Every installed service's declaration, ordered by service name."""
    services = []
    for point in sorted(entry_points(group=SERVICES_GROUP), key=lambda p: p.name):
        service = point.load()
        if not isinstance(service, Service):
            raise TypeError(f"entry point {point.value} is not a shared.services.Service")
        services.append(service)
    return tuple(services)


def workers() -> dict[str, Worker]:
    """The workers ``rasid worker NAME`` can start, by name."""
    return {service.worker.name: service.worker for service in installed_services() if service.worker}


def beating_processes() -> tuple[str, ...]:
    """The names of the processes ``rasid status`` expects alive beside the workers."""
    return tuple(process.name for process in supervised_processes() if process.name)


def task_routes() -> dict[str, dict[str, str]]:
    """Celery's ``task_routes``: every service's routes, in one map."""
    routes: dict[str, dict[str, str]] = {}
    for service in installed_services():
        for task, queue in service.routes.items():
            if task in routes:
                raise ValueError(f"task route {task!r} is declared by two services")
            routes[task] = {"queue": queue}
    return routes


def beat_schedule() -> dict[str, dict[str, Any]]:
    """Celery's ``beat_schedule``: every periodic task at the interval its service's settings give."""
    return {
        periodic.task: {"task": periodic.task, "schedule": timedelta(seconds=periodic.seconds())}
        for service in installed_services()
        for periodic in service.periodic
    }


def known_topics() -> frozenset[str] | None:
    """Every topic an installed service can tag articles with; None when no service declares any."""
    declared = [service.topics() for service in installed_services() if service.topics]
    return frozenset().union(*declared) if declared else None


def status_reporters() -> tuple[Callable[..., Any], ...]:
    """Every installed service's part of ``rasid status`` (see :mod:`shared.status`)."""
    return tuple(resolve_name(service.status) for service in installed_services() if service.status)


def metrics_reporters() -> tuple[Callable[..., Any], ...]:
    """Every installed service's part of ``/metrics`` (see :mod:`shared.web.metrics`)."""
    return tuple(resolve_name(service.metrics) for service in installed_services() if service.metrics)


def supervised_processes() -> tuple[Process, ...]:
    """What ``rasid run`` starts, in order: every worker, the other processes, the web process
    (``shared``'s own), beat, then the processes that are stopped first."""
    extra = [process for service in installed_services() for process in service.processes]
    return (
        *(Process(("worker", name)) for name in workers()),
        *(process for process in extra if not process.stop_first),
        Process(("web",)),
        Process(("beat",), name=BEAT),
        *(process for process in extra if process.stop_first),
    )
